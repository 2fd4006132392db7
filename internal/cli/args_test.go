package cli

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Test_args: each mistake on the command line is refused (exit 2) with one line that says why,
// before anything starts; --help exits 0 for every subcommand.
func Test_args(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "extra", "--sink=foo"}, `run: unexpected argument "extra" (flags after it are not read): every setting is a flag` + "\n"},
		{[]string{"run", "--apply", "examples", "--keep-running"}, "run: --apply, --keep-running only work with --local\n"},
		{[]string{"run", "--write-kubeconfig", "/tmp/k"}, "run: --write-kubeconfig only works with --local\n"},
		{[]string{"run", "--sink=git", "--git-url", "git@github.com:acme/fleet.git"}, "--git-url git@github.com:acme/fleet.git: scp-style addresses are not URLs; write ssh://git@github.com/acme/fleet.git\n"},
		{[]string{"run", "--sink=git", "--git-push-branch", "review", "--git-url", "https://example.com/a/b.git", "--git-pull-request", "gitea2"}, "--git-pull-request=gitea2: want github, gitlab, gitea or auto\n"},
		{[]string{"run", "--sink=git", "--git-url", "https://example.com/a/b.git", "--git-pull-request", "gitea"}, "--git-pull-request needs --git-push-branch: the pull request goes from the push branch to --git-branch\n"},
		{[]string{"run", "--sink=git", "--git-push-branch", "review", "--git-url", "https://git.example.com/a/b.git", "--git-pull-request", "auto"}, "cannot tell the forge of https://git.example.com/a/b.git from its host: name it, --git-pull-request=github|gitlab|gitea\n"},
		{[]string{"render", "-n", "ns1"}, "render: -f is required: a file or directory of Meridio resources, or - for standard input\nRun 'meridio-operator render -h' for the flags.\n"},
		{[]string{"render", "-f", "x", "-o", "xml"}, "render: -o xml: want yaml or json\nRun 'meridio-operator render -h' for the flags.\n"},
		{[]string{"render", "-f", "x", "-o", "json", "--output-dir", "d"}, "render: -o json cannot be used with --output-dir: the layout git mode commits is YAML files\nRun 'meridio-operator render -h' for the flags.\n"},
		{[]string{"render", "-f", "x", "stray"}, "render: unexpected argument \"stray\": give files and directories with -f\nRun 'meridio-operator render -h' for the flags.\n"},
		{[]string{"render", "-f", "x", "-n", ""}, "render: -n \"\" is not a namespace name: a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')\nRun 'meridio-operator render -h' for the flags.\n"},
		{[]string{"template-message", "-f", "x", "y"}, "template-message: unexpected argument \"y\": give files and directories with -f\n"},
	} {
		code, out, stderr := runCLI("", tc.args...)
		assert.Equal(t, 2, code, "%v", tc.args)
		assert.Empty(t, out, "%v", tc.args)
		assert.Equal(t, tc.want, stderr, "%v", tc.args)
	}
	for _, cmd := range []string{"run", "render", "template-message", "deploy", "bundle"} {
		code, _, _ := runCLI("", cmd, "--help")
		assert.Equal(t, 0, code, cmd)
	}
}

// Test_renderRepositoryAsCISeesIt: a repository directory with a CI workflow in a hidden
// directory, a Helm template, a list, a string and empty documents renders its Meridio resources,
// each other thing skipped with one short line; with no Meridio resource at all, a notice and
// exit status 0.
func Test_renderRepositoryAsCISeesIt(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		p := filepath.Join(dir, filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(text), 0o644))
	}
	write(".github/workflows/ci.yaml", "name: ci\non: [push]\njobs: {}\n")
	write("chart/templates/cm.yaml", "name: {{ .Values.x }}\n")
	write("lists/list.yaml", "- a\n- b\n")
	write("lists/string.yaml", "just a string\n")
	write("empty.yaml", "---\n---\n# nothing\n")
	code, out, stderr := runCLI("", "render", "-f", dir)
	assert.Equal(t, 0, code, stderr)
	assert.Empty(t, out)
	assert.Equal(t, "skipped "+filepath.Join(dir, ".github")+"/: a hidden directory\n"+
		"skipped "+filepath.Join(dir, "chart/templates/cm.yaml")+"#1: not YAML (a template?)\n"+
		"skipped "+filepath.Join(dir, "lists/list.yaml")+"#1: not a Kubernetes object (not a mapping)\n"+
		"skipped "+filepath.Join(dir, "lists/string.yaml")+"#1: not a Kubernetes object (not a mapping)\n"+
		"render: no Meridio resource in the input: nothing to render\n", stderr)

	write("meridio/trench.yaml", "apiVersion: meridio.nordix.org/v1alpha1\nkind: Trench\nmetadata: {name: t}\nspec: {ip-family: ipv4}\n")
	code, out, stderr = runCLI("", "render", "-f", dir)
	assert.Equal(t, 0, code, stderr)
	assert.Contains(t, out, "name: meridio-configuration-t")
	// A broken Meridio document is never put aside as "not YAML".
	write("meridio/broken.yaml", "apiVersion: meridio.nordix.org/v1alpha1\nkind: Vip\nmetadata: {name: v, labels: {trench: t}\nspec: {address: 10.0.0.1/32}\n")
	code, _, stderr = runCLI("", "render", "-f", dir)
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, filepath.Join(dir, "meridio/broken.yaml"))
	assert.NotContains(t, stderr, "broken.yaml#1: not YAML")
}

// Test_renderOneMistakeOneMessage: a Trench that fails validation, or whose kind is misspelt,
// gives its own error only, not one more for each resource of its trench.
func Test_renderOneMistakeOneMessage(t *testing.T) {
	data, err := os.ReadFile("../../examples/trench-a.yaml")
	require.NoError(t, err)
	for name, tc := range map[string]struct{ from, to, want string }{
		"invalid ip-family": {"ip-family: dualstack", "ip-family: dual", `<stdin>#1: Trench trench-a: spec.ip-family: Unsupported value: "dual": supported values: "dualstack", "ipv4", "ipv6"` + "\n"},
		"misspelt kind":     {"kind: Trench\n", "kind: Trenh\n", `<stdin>#1: kind "Trenh" of apiVersion "meridio.nordix.org/v1alpha1" is not a Meridio resource (want Trench, Attractor, Gateway, Vip, Conduit, Stream or Flow of meridio.nordix.org/v1alpha1)` + "\n"},
	} {
		code, _, stderr := runCLI(strings.Replace(string(data), tc.from, tc.to, 1), "render", "-f", "-")
		assert.Equal(t, 1, code, name)
		assert.Equal(t, tc.want, stderr, name)
	}
	// A resource whose trench is simply absent is still reported.
	code, _, stderr := runCLI("apiVersion: meridio.nordix.org/v1alpha1\nkind: Vip\nmetadata: {name: v, labels: {trench: nowhere}}\nspec: {address: 10.0.0.1/32}\n", "render", "-f", "-")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "unable to find the trench in label")
}

// Test_renderYAMLErrorsNameTheFileLine: syntax errors, tabs and duplicate keys name the line of
// the file (not of the document inside it), on one line.
func Test_renderYAMLErrorsNameTheFileLine(t *testing.T) {
	f := filepath.Join(t.TempDir(), "crs.yaml")
	require.NoError(t, os.WriteFile(f, []byte(`apiVersion: meridio.nordix.org/v1alpha1
kind: Trench
metadata: {name: t}
spec: {ip-family: ipv4}
---
apiVersion: meridio.nordix.org/v1alpha1
kind: Vip
metadata:
  name: v
  name: w
  labels: {trench: t}
spec: {address: 10.0.0.1/32}
--- # a tab below
apiVersion: meridio.nordix.org/v1alpha1
kind: Vip
metadata:
	name: x
---
apiVersion: meridio.nordix.org/v1alpha1
kind: Vip
metadata: {name: y
spec: {}
`), 0o644))
	code, _, stderr := runCLI("", "render", "-f", f)
	assert.Equal(t, 1, code)
	assert.Equal(t, f+`#2: yaml: line 10: key "name" already set in map`+"\n"+
		f+"#3: yaml: line 17: found character that cannot start any token\n"+
		f+"#4: yaml: line 21: did not find expected ',' or '}'\n", stderr)
}

// Test_renderIPMistakes: each IP mistake has its own words, naming the field, and the CRD
// rules (Vip, Attractor) word it as the webhooks' checks (Flow) do.
func Test_renderIPMistakes(t *testing.T) {
	const file = "testdata/render/ip-mistakes.yaml"
	code, _, stderr := runCLI("", "render", "-f", file)
	assert.Equal(t, 1, code)
	golden(t, "render/ip-mistakes.golden", stderr)
	byValue := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(stderr), "\n") {
		_, rest, ok := strings.Cut(line, "Invalid value: ")
		require.True(t, ok, line)
		value, msg, _ := strings.Cut(rest, ": ")
		byValue[value] = append(byValue[value], msg)
	}
	for _, v := range []string{"20.0.0.1", "20.0.0/24", "20.0.0.0/x", "20.0.0.1/33", "2001:db8::1/129", "2001:db8::1/64"} {
		msgs := byValue[strconv.Quote(v)]
		require.Len(t, msgs, 2, "%s: a Vip and a Flow subnet", v)
		assert.Equal(t, msgs[0], msgs[1], "%s: the CRD rule and the webhook say the same", v)
	}
	assert.Len(t, byValue, 10, "each mistake is reported once")
}

// Test_renderWarnsAsTheWebhooks: dangling references and IP-family mismatches are rendered
// with the warnings the webhooks give, one line each, naming the file and the field.
func Test_renderWarnsAsTheWebhooks(t *testing.T) {
	code, out, stderr := runCLI("", "render", "-f", "testdata/render/dangling.yaml")
	assert.Equal(t, 0, code, stderr)
	assert.Contains(t, out, "kind: ConfigMap")
	golden(t, "render/dangling.golden", stderr)
	code, _, stderr = runCLI("", "render", "-f", "../../examples/trench-a.yaml")
	assert.Equal(t, 0, code)
	assert.Empty(t, stderr, "a complete trench has nothing to warn of")
}

// Test_runWithoutCluster: with no cluster to be found, run says so in one plain line.
func Test_runWithoutCluster(t *testing.T) {
	t.Setenv("KUBECONFIG", "")
	t.Setenv("HOME", t.TempDir())
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	code, out, stderr := runCLI("", "run")
	assert.Equal(t, 1, code)
	assert.Empty(t, out)
	assert.Equal(t, "run: no cluster found: not in a pod, and no kubeconfig ($KUBECONFIG or ~/.kube/config); point KUBECONFIG at one, or try --local for an embedded API server\n", stderr)

	bad := filepath.Join(t.TempDir(), "kubeconfig")
	require.NoError(t, os.WriteFile(bad, []byte("clusters: {"), 0o600))
	t.Setenv("KUBECONFIG", bad)
	code, _, stderr = runCLI("", "run")
	assert.Equal(t, 1, code)
	assert.Equal(t, 1, strings.Count(stderr, "\n"), stderr)
	assert.True(t, strings.HasPrefix(stderr, `run: kubeconfig: error loading config file "`+bad+`"`), stderr)
}
