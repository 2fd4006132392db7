package cli

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Test_readme: the README starts with the two set-up commands, and the flag table of each
// command lists every flag the command has, once (the README is the reference users read).
func Test_readme(t *testing.T) {
	data, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	readme := string(data)
	block := regexp.MustCompile("(?s)```sh\n(.*?)```").FindStringSubmatch(readme)
	require.NotNil(t, block, "a first shell block")
	var commands []string
	for _, line := range strings.Split(strings.TrimSpace(block[1]), "\n") {
		cmd, _, _ := strings.Cut(line, "#")
		commands = append(commands, strings.TrimSpace(cmd))
	}
	assert.Equal(t, []string{"make run", "make test"}, commands, "the two set-up commands come first")

	flagName := regexp.MustCompile(`(?m)^  -([a-z0-9-]+)`)
	for _, cmd := range []string{"run", "render", "template-message", "deploy", "bundle"} {
		_, _, help := runCLI("", cmd, "-h")
		listed := tableFlags(sectionOf(t, readme, "### Flags of `"+cmd+"`"))
		for _, m := range flagName.FindAllStringSubmatch(help, -1) {
			assert.Equal(t, 1, listed[m[1]], "%s -%s: in one row of the README's table", cmd, m[1])
		}
	}
}

// tableFlags counts the flags named in the first cells of the table rows of section: code
// spans such as `--git-url URL` or `-f FILE|DIR|-`.
func tableFlags(section string) map[string]int {
	out := map[string]int{}
	span := regexp.MustCompile("`(--?[a-z0-9-]+)[^`]*`")
	for _, line := range strings.Split(section, "\n") {
		cells := strings.Split(line, " | ")
		if !strings.HasPrefix(line, "| `") || len(cells) < 2 {
			continue
		}
		for _, m := range span.FindAllStringSubmatch(cells[0], -1) {
			out[strings.TrimLeft(m[1], "-")]++
		}
	}
	return out
}

// sectionOf returns the text of the README from heading to the next heading of its level or
// above.
func sectionOf(t *testing.T, readme, heading string) string {
	t.Helper()
	i := strings.Index(readme, "\n"+heading+"\n")
	require.GreaterOrEqual(t, i, 0, "README has %q", heading)
	rest := readme[i+len(heading)+2:]
	level := strings.Index(heading, " ")
	for _, h := range regexp.MustCompile(`(?m)^#{1,6} `).FindAllStringIndex(rest, -1) {
		if h[1]-h[0]-1 <= level {
			return rest[:h[0]]
		}
	}
	return rest
}
