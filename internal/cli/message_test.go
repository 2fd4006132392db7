package cli

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// golden compares got with a file of testdata/, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.WriteFile(p, []byte(got), 0o644))
	}
	want, err := os.ReadFile(p)
	require.NoError(t, err)
	assert.Equal(t, string(want), got)
}

// Test_templateMessage: the offline command prints the message git mode writes for a change
// from --previous to -f: a Flow edited in one trench and another trench removed, with the
// template (changed resource with its generations, render hashes, files) and by default; the
// trailers are there either way.
func Test_templateMessage(t *testing.T) {
	const dir = "testdata/template-message"
	code, out, stderr := runCLI("", "template-message", "--previous", dir+"/previous", "-f", dir+"/next", "--template", dir+"/commit.tmpl", "--git-path", "clusters/prod")
	require.Equal(t, 0, code, stderr)
	golden(t, "template-message/templated.golden", out)
	assert.Contains(t, out, "changed Flow/flow-1 generation 1 -> 2")
	assert.Contains(t, out, "\n\nMeridio-Trench: default/trench-a\nMeridio-Source: Trench/trench-a uid= generation=1\n")

	code, out, stderr = runCLI("", "template-message", "--previous", dir+"/previous", "-f", dir+"/next", "--git-path", "clusters/prod")
	require.Equal(t, 0, code, stderr)
	golden(t, "template-message/default.golden", out)
	assert.True(t, strings.HasPrefix(out, "meridio: update 1 trench, remove 1\n"), out)

	// No previous resources: the first commit adds every trench.
	code, out, stderr = runCLI("", "template-message", "-f", dir+"/next", "--template", dir+"/commit.tmpl")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, out, "default/trench-a (add, ")
	assert.Contains(t, out, "added Flow/flow-1 generation 0 -> 1")

	code, _, stderr = runCLI("", "template-message", "--previous", dir+"/next", "-f", dir+"/next")
	assert.Equal(t, 1, code)
	assert.Equal(t, "nothing changes: the renders before and after are the same\n", stderr)
}

// Test_templateMessage_errors: a bad template is refused with file:line:column, by the
// offline command and by run at start-up, before anything starts.
func Test_templateMessage_errors(t *testing.T) {
	tmp := t.TempDir()
	for name, tc := range map[string]struct{ text, want string }{
		"unknown field":    {"{{ .Subject }}\n{{ range .Trenches }}{{ .Nope }}{{ end }}\n", ":2:24: <.Nope>: can't evaluate field Nope in type gitsink.TrenchChange"},
		"unknown function": {"x {{ .Subject | nosuchfunc }}\n", `:1:3: function "nosuchfunc" not defined`},
		"bad action":       {"x\n\n   {{ .Subject } }}\n", `:3:4: unexpected "}" in operand`},
		"unclosed":         {"{{ if .Operator }}\nno end\n", ":3:1: unexpected EOF"},
		"environment":      {`{{ env "HOME" }}`, `:1:1: function "env" not defined`},
		"empty":            {"{{/* nothing */}}\n", ": the template writes an empty message"},
	} {
		t.Run(name, func(t *testing.T) {
			f := filepath.Join(tmp, strings.ReplaceAll(name, " ", "-")+".tmpl")
			require.NoError(t, os.WriteFile(f, []byte(tc.text), 0o644))
			code, out, stderr := runCLI("", "template-message", "-f", "testdata/template-message/next", "--template", f)
			assert.Equal(t, 2, code)
			assert.Empty(t, out)
			assert.Equal(t, f+tc.want+"\n", stderr)
			code, _, stderr = runCLI("", "run", "--sink=git", "--git-url", "file:///nonexistent", "--git-commit-template", f, "--metrics-bind-address", "0")
			assert.Equal(t, 2, code)
			assert.Contains(t, stderr, f+tc.want)
		})
	}
	code, _, stderr := runCLI("", "template-message", "--template", "x")
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, "template-message: -f is required")
	code, _, _ = runCLI("", "template-message", "--help")
	assert.Equal(t, 0, code)
}
