package app

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestEveryPackageHasADocComment walks the whole module: a newcomer should
// learn what any package is for from its doc comment.
func TestEveryPackageHasADocComment(t *testing.T) {
	root := moduleRoot(t)
	missing, packages, err := undocumentedPackages(root)
	if err != nil {
		t.Fatalf("walk module: %v", err)
	}
	// A walk that found almost nothing would pass vacuously.
	if packages < 10 {
		t.Fatalf("found only %d packages under %s; the walk is broken", packages, root)
	}
	for _, dir := range missing {
		t.Errorf("package %s has no package doc comment (// Package … in one of its files)", dir)
	}
}

func TestUndocumentedPackages_FindsPackagesWithoutADocComment(t *testing.T) {
	root := t.TempDir()
	write := func(rel, src string) { writeTree(t, root, rel, src) }
	write("go.mod", "module example.com/m\n")
	write("root.go", "// Package m is documented.\npackage m\n")
	write("good/a.go", "package good\n")
	write("good/b.go", "// Package good is documented in its second file.\npackage good\n")
	write("bad/a.go", "// A comment not attached to the package clause.\n\npackage bad\n")
	write("testonly/a.go", "package testonly\n")
	write("testonly/doc_test.go", "// Package testonly is documented only in a test.\npackage testonly\n")
	write("nested/deeper/x.go", "package deeper\n")
	write("nogo/README.md", "no Go here\n")
	write("node_modules/dep/x.go", "package dep\n")
	write("testdata/x.go", "package x\n")
	write(".hidden/x.go", "package x\n")

	missing, packages, err := undocumentedPackages(root)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"bad", "nested/deeper", "testonly"}, missing); diff != "" {
		t.Errorf("undocumented packages (-want +got):\n%s", diff)
	}
	if packages != 5 {
		t.Errorf("packages = %d; want 5 (skipped dirs are not walked)", packages)
	}
}

// undocumentedPackages walks root and lists, relative to it and sorted, the
// directories whose non-test Go files carry no package doc comment.
func undocumentedPackages(root string) (missing []string, packages int, err error) {
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		name := d.Name()
		if path != root && (name == "node_modules" || name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
			return filepath.SkipDir
		}
		documented, hasGo, err := packageDocumented(path)
		if err != nil {
			return err
		}
		if !hasGo {
			return nil
		}
		packages++
		if !documented {
			rel, _ := filepath.Rel(root, path)
			missing = append(missing, filepath.ToSlash(rel))
		}
		return nil
	})
	slices.Sort(missing)
	return missing, packages, err
}

// packageDocumented reports whether a directory holds non-test Go files and
// whether any of them carries a package doc comment.
func packageDocumented(dir string) (documented, hasGo bool, err error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false, false, err
	}
	fset := token.NewFileSet()
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || !strings.HasSuffix(n, ".go") || strings.HasSuffix(n, "_test.go") {
			continue
		}
		hasGo = true
		f, err := parser.ParseFile(fset, filepath.Join(dir, n), nil, parser.PackageClauseOnly|parser.ParseComments)
		if err != nil {
			return false, true, err
		}
		if f.Doc != nil && strings.TrimSpace(f.Doc.Text()) != "" {
			return true, true, nil
		}
	}
	return false, hasGo, nil
}

func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}

// writeTree writes src at rel (slash-separated) under root, making folders.
func writeTree(t *testing.T, root, rel, src string) {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
}
