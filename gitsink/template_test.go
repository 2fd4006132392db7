package gitsink

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/meridio-operator/meridio-operator/internal/testutil"
)

// Test_Sink_messageTemplate: with a template, each commit's message is the template's text on
// what the commit changes (the changed resource with its generations, the render hashes, the
// files), followed by the provenance trailers, which git reads as trailers.
func Test_Sink_messageTemplate(t *testing.T) {
	tmpl, err := ParseMessageTemplate("commit.tmpl", `chore(meridio): {{ len .Trenches }} trench(es) by {{ .Operator }}
{{ range .Trenches }}
{{ .Dir }} {{ .Action }} {{ .OldHash | trunc 7 }}..{{ .NewHash | trunc 7 }}
{{- range .Changed }} {{ .Change }}:{{ .Kind }}/{{ .Name }}@{{ .OldGeneration }}->{{ .Generation }}{{ end }}
{{- with .Files }} files +{{ join "," .Added | default "-" }} ~{{ join "," .Changed | default "-" }} -{{ join "," .Removed | default "-" }}{{ end }}
{{ end }}`)
	require.NoError(t, err)
	srv := newServer(t)
	r := newRemote(t, srv, "file", "templated.git")
	s := startSink(t, r, "")
	s.template = tmpl
	results := examples(t)
	a := trenchResult(t, results, "trench-a")
	s.deliverAll(t, a)
	first := testutil.Git(t, r.bare, "rev-parse", "main:default/trench-a")
	msg := testutil.Git(t, r.bare, "log", "-1", "--format=%B", "main")
	assert.True(t, strings.HasPrefix(msg, "chore(meridio): 1 trench(es) by test\n\ndefault/trench-a add .."+first[:7]), msg)
	assert.Contains(t, msg, "added:Flow/flow-1@0->0", "offline renders are at generation 0")

	edited := withReplicas(t, a, 3)
	for i, src := range edited.Sources {
		if src.Kind == "Attractor" {
			edited.Sources[i].Generation++
		}
	}
	s.deliverAll(t, edited)
	second := testutil.Git(t, r.bare, "rev-parse", "main:default/trench-a")
	msg = testutil.Git(t, r.bare, "log", "-1", "--format=%B", "main")
	want := "chore(meridio): 1 trench(es) by test\n\ndefault/trench-a update " + first[:7] + ".." + second[:7] +
		" changed:Attractor/attr1@0->1 files +- ~deployment-nse-vlan-attr1.yaml,deployment-stateless-lb-frontend-attr1.yaml --\n\nMeridio-Trench: default/trench-a\n"
	assert.True(t, strings.HasPrefix(msg, want), "got:\n%s\nwant prefix:\n%s", msg, want)
	trailers := testutil.Git(t, r.bare, "log", "-1", "--format=%(trailers:key=Meridio-Trench,key=Meridio-Source,valueonly)", "main")
	assert.Contains(t, trailers, "default/trench-a\n")
	assert.Contains(t, trailers, "Attractor/attr1 uid= generation=1")
}

// TestParseMessageTemplate: the sample data reaches every field a template may use, and what
// reads the operator's environment is not there.
func TestParseMessageTemplate(t *testing.T) {
	tmpl, err := ParseMessageTemplate("t", `{{ .Subject }} {{ .Branch }} {{ range .Trenches }}{{ .Namespace }}/{{ .Name }} {{ range .Sources }}{{ .Kind }}{{ .UID }}{{ end }}{{ range .Changed }}{{ .UID }}{{ end }}{{ end }}`)
	require.NoError(t, err)
	out, err := tmpl.Execute(SampleMessageData())
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(out, "meridio: update 2 trenches, remove 1 main default/trench-a Trench"), out)
	for _, f := range []string{"env", "expandenv", "getHostByName"} {
		_, err := ParseMessageTemplate("t", "{{ "+f+" \"x\" }}")
		assert.ErrorContains(t, err, "t:1:1: function \""+f+"\" not defined")
	}
}
