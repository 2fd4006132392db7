// Command meridio-operator runs the Meridio operator (`run`) or renders the workloads of Meridio
// custom resources offline (`render`).
package main

import (
	"os"

	"github.com/meridio-operator/meridio-operator/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
