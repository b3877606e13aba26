package openaiwire_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// elsewhere are the struct types outside this package allowed to look like
// the wire, each with why.
var elsewhere = map[string]string{
	// The stored conversation: written and read only by the session
	// stores, never sent to a client or a model.
	"internal/session/session.go": "Message",
}

// The Chat Completions JSON is described here only: a struct anywhere else
// in the module (tests aside: a test may read a shape its own way) with a member tagged "function" (a tool
// call, tool or tool choice), or "tool_calls" beside "role" or "content"
// (a chat message), is a second copy that would drift.
func TestWire_NoSecondDefinitionOutsideThePackage(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			if rel == "internal/openaiwire" || d.Name() == "node_modules" || d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".") && rel != "." {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if ts, ok := n.(*ast.TypeSpec); ok && elsewhere[filepath.ToSlash(rel)] == ts.Name.Name {
				return false
			}
			if st, ok := n.(*ast.StructType); ok && looksLikeWire(jsonNames(st)) {
				found = append(found, rel)
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(found) > 0 {
		t.Errorf("Chat Completions wire structs outside internal/openaiwire (use its types): %v", found)
	}
}

func looksLikeWire(names []string) bool {
	has := func(n string) bool { return slices.Contains(names, n) }
	return has("function") || has("tool_calls") && (has("role") || has("content"))
}

// jsonNames are the JSON member names of st's tagged fields.
func jsonNames(st *ast.StructType) []string {
	var out []string
	for _, f := range st.Fields.List {
		if f.Tag == nil {
			continue
		}
		tag, err := strconv.Unquote(f.Tag.Value)
		if err != nil {
			continue
		}
		if name, _, _ := strings.Cut(reflect.StructTag(tag).Get("json"), ","); name != "" {
			out = append(out, name)
		}
	}
	return out
}

// The scan finds what it looks for: a copy of the tool call and of the
// message shapes, as they were written before this package.
func TestWire_DriftScanRecognisesACopy(t *testing.T) {
	src := `package p
type toolCall struct {
	ID       string ` + "`json:\"id\"`" + `
	Function struct{ Name string ` + "`json:\"name\"`" + ` } ` + "`json:\"function\"`" + `
}
type message struct {
	Role      string     ` + "`json:\"role\"`" + `
	ToolCalls []toolCall ` + "`json:\"tool_calls,omitempty\"`" + `
}
type record struct {
	ToolCalls []string ` + "`json:\"tool_calls\"`" + `
	RunID     string   ` + "`json:\"run_id\"`" + `
}`
	f, err := parser.ParseFile(token.NewFileSet(), "p.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []bool
	ast.Inspect(f, func(n ast.Node) bool {
		if st, ok := n.(*ast.StructType); ok && len(st.Fields.List) > 1 {
			got = append(got, looksLikeWire(jsonNames(st)))
		}
		return true
	})
	if want := []bool{true, true, false}; !slices.Equal(got, want) {
		t.Errorf("recognised %v; want %v (tool call, message, gatehouse's own record)", got, want)
	}
}
