package gitsink

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig/v3"

	"github.com/meridio-operator/meridio-operator/render"
)

// MessageData is what a commit message template is executed with.
type MessageData struct {
	// Subject is the default subject line ("meridio: update trench-a (Flow flow-1)").
	Subject string
	// Operator is the operator's version.
	Operator string
	// Branch is the branch the commit is pushed to.
	Branch string
	// Trenches are the trench directories the commit changes, by directory.
	Trenches []TrenchChange
}

// TrenchChange is what a commit does to one trench directory.
type TrenchChange struct {
	Namespace, Name string
	// Dir is the directory under the owned path: "<namespace>/<name>".
	Dir string
	// Action is "add", "update" or "remove".
	Action string
	// OldHash and NewHash are the Git tree hashes of the directory before and after: the
	// hash of the render ("" when there is none).
	OldHash, NewHash string
	// Sources are the trench's resources the render comes from (none when removed).
	Sources []render.Source
	// Changed are the resources that are new, gone or at another generation than in the
	// render the branch held (empty when that is unknown).
	Changed []SourceChange
	// Files are the files of the directory added, changed and removed.
	Files FileChanges
}

// SourceChange is a resource of a trench that changed since the render the branch held.
type SourceChange struct {
	Kind, Name, UID string
	// Generation is the resource's generation now, OldGeneration the one of the render the
	// branch held (0 when added or removed).
	Generation, OldGeneration int64
	// Change is "added", "changed" or "removed".
	Change string
}

// FileChanges lists file names of a trench directory.
type FileChanges struct {
	Added, Changed, Removed []string
}

// MessageTemplate is a parsed commit message template.
type MessageTemplate struct {
	name string
	t    *template.Template
}

// funcs are sprig's text functions, less those that read the operator's environment (which
// holds no business in a commit message, and may hold secrets).
func funcs() template.FuncMap {
	f := sprig.TxtFuncMap()
	for _, name := range []string{"env", "expandenv", "getHostByName"} {
		delete(f, name)
	}
	return f
}

// ParseMessageTemplate parses a Go text/template with sprig's functions, and executes it once
// on sample data, so that a mistake is refused at start-up: the error names
// name:line:column.
func ParseMessageTemplate(name, text string) (*MessageTemplate, error) {
	t, err := template.New(name).Option("missingkey=error").Funcs(funcs()).Parse(text)
	if err != nil {
		return nil, locate(name, text, err)
	}
	mt := &MessageTemplate{name: name, t: t}
	out, err := mt.Execute(SampleMessageData())
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(out) == "" {
		return nil, fmt.Errorf("%s: the template writes an empty message", name)
	}
	return mt, nil
}

// Execute writes the message of d, without trailing blank lines.
func (m *MessageTemplate) Execute(d MessageData) (string, error) {
	var b bytes.Buffer
	if err := m.t.Execute(&b, d); err != nil {
		return "", locate(m.name, "", err)
	}
	return strings.TrimRight(b.String(), " \t\n"), nil
}

// templateErr matches text/template's errors: "template: NAME:LINE:COL: msg" or
// "template: NAME:LINE: msg".
var templateErr = regexp.MustCompile(`^template: (.*?):(\d+)(?::(\d+))?: (.*)$`)

// locate rewrites a template error as "name:line:column: message". Parse errors carry no
// column: it is found by parsing the failing line one action at a time.
func locate(name, text string, err error) error {
	m := templateErr.FindStringSubmatch(err.Error())
	if m == nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	line, _ := strconv.Atoi(m[2])
	msg := m[4]
	// An execution error names the action after the position: "executing \"x\" at <.Foo>: ...".
	if i := strings.Index(msg, " at <"); strings.HasPrefix(msg, "executing ") && i >= 0 {
		msg = msg[i+len(" at "):]
	}
	col := m[3]
	if col == "" {
		col = strconv.Itoa(parseColumn(text, line, msg))
	}
	return fmt.Errorf("%s:%d:%s: %s", name, line, col, msg)
}

// parseColumn finds the column of the action of line that makes parsing fail with msg: the
// first action whose text, with everything before it, fails the same way (1 when none does).
func parseColumn(text string, line int, msg string) int {
	lines := strings.SplitAfter(text, "\n")
	if line < 1 || line > len(lines) {
		return 1
	}
	before := strings.Join(lines[:line-1], "")
	l := lines[line-1]
	for i := 0; i < len(l); {
		open := strings.Index(l[i:], "{{")
		if open < 0 {
			break
		}
		open += i
		end := strings.Index(l[open:], "}}")
		if end < 0 {
			return open + 1
		}
		end += open + 2
		_, err := template.New("").Funcs(funcs()).Parse(before + l[:end])
		if err != nil {
			if m := templateErr.FindStringSubmatch(err.Error()); m != nil && m[2] == strconv.Itoa(line) && m[4] == msg {
				return open + 1
			}
		}
		i = end
	}
	return 1
}

// SampleMessageData is what a template is tried with at start-up: one trench updated, one
// added, one removed.
func SampleMessageData() MessageData {
	src := func(kind, name string, gen int64) render.Source {
		return render.Source{Kind: kind, Name: name, UID: "00000000-0000-0000-0000-000000000000", Generation: gen}
	}
	return MessageData{
		Subject: "meridio: update 2 trenches, remove 1", Operator: "dev", Branch: "main",
		Trenches: []TrenchChange{
			{Namespace: "default", Name: "trench-a", Dir: "default/trench-a", Action: "update",
				OldHash: "4b825dc642cb6eb9a060e54bf8d69288fbee4904", NewHash: "9bd5d8a3a1e0c1cc4a1f0b7e2f8d0e6c3a5b7d91",
				Sources: []render.Source{src("Trench", "trench-a", 1), src("Flow", "flow-1", 3)},
				Changed: []SourceChange{{Kind: "Flow", Name: "flow-1", Generation: 3, OldGeneration: 2, Change: "changed"}},
				Files:   FileChanges{Changed: []string{"configmap-meridio-configuration-trench-a.yaml"}}},
			{Namespace: "default", Name: "trench-b", Dir: "default/trench-b", Action: "add",
				NewHash: "1f7a7a472abf3dd9643fd615f6da379c4acb3e3a", Sources: []render.Source{src("Trench", "trench-b", 1)},
				Changed: []SourceChange{{Kind: "Trench", Name: "trench-b", Generation: 1, Change: "added"}},
				Files:   FileChanges{Added: []string{"kustomization.yaml"}}},
			{Namespace: "default", Name: "trench-c", Dir: "default/trench-c", Action: "remove",
				OldHash: "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391",
				Changed: []SourceChange{{Kind: "Trench", Name: "trench-c", OldGeneration: 4, Change: "removed"}},
				Files:   FileChanges{Removed: []string{"kustomization.yaml"}}},
		},
	}
}
