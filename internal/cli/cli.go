// Package cli implements the subcommands of the meridio-operator binary.
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
)

const usage = `usage: meridio-operator <command> [flags]

commands:
  run      run the operator (manager, reconcilers and admission webhooks)
  render   render the workloads of Meridio custom resources offline
  template-message
           print the commit message git mode writes for a change, offline (try a --git-commit-template)
  deploy   install the operator into the cluster of the current kubeconfig (make deploy)
  bundle   write the OLM bundle generated from config/ (make bundle)
  version  print the version

Run 'meridio-operator <command> -h' for the flags of a command.
`

// Version is set at build time with -ldflags "-X .../internal/cli.Version=...".
var Version = "dev"

// Main runs the subcommand named by args[0] and returns the process exit code.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "run":
		return runCommand(args[1:], stdout, stderr)
	case "render":
		return renderCommand(args[1:], stdin, stdout, stderr)
	case "template-message":
		return templateMessageCommand(args[1:], stdin, stdout, stderr)
	case "deploy":
		return deployCommand(args[1:], stdout, stderr)
	case "bundle":
		return bundleCommand(args[1:], stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, Version)
		return 0
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "unknown command %q\n\n%s", args[0], usage)
		return 2
	}
}

// parseFlags parses args into fs. When it is not ok the command exits with code: 0 after -h, 2
// after a bad flag (the flag package has printed why).
func parseFlags(fs *flag.FlagSet, args []string) (code int, ok bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, false
		}
		return 2, false
	}
	return 0, true
}

// noArguments refuses the arguments left after the flags (a flag after one is not parsed at
// all), naming the first with hint after it.
func noArguments(fs *flag.FlagSet, stderr io.Writer, hint string) bool {
	if fs.NArg() == 0 {
		return true
	}
	fmt.Fprintf(stderr, "%s: unexpected argument %q%s\n", fs.Name(), fs.Arg(0), hint)
	return false
}
