package app

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/google/go-cmp/cmp"
)

// readmeMaxLines keeps the README an entry point: what Gatehouse is, the two
// commands, the walk-through, the deviations and a map; the reference lives
// in docs/.
const readmeMaxLines = 500

func TestReadme_StaysShort(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(moduleRoot(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), "\n"); n >= readmeMaxLines {
		t.Errorf("README.md has %d lines; keep it under %d and move reference text into docs/", n, readmeMaxLines)
	}
}

// TestDocs_RelativeLinksResolve fails for a link in README.md or docs/*.md
// whose file or heading anchor does not exist, and for a docs/ file the
// README's map does not link.
func TestDocs_RelativeLinksResolve(t *testing.T) {
	root := moduleRoot(t)
	docs, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	// A glob that found nothing would pass vacuously.
	if len(docs) < 5 {
		t.Fatalf("found %d files in docs/; the glob is broken", len(docs))
	}
	files := []string{"README.md"}
	for _, d := range docs {
		rel, _ := filepath.Rel(root, d)
		files = append(files, filepath.ToSlash(rel))
	}
	problems, err := brokenLinks(root, files)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Error(p)
	}
	readme, err := linkTargets(root, "README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files[1:] {
		if !slices.Contains(readme, f) {
			t.Errorf("%s is not linked from the README's map", f)
		}
	}
}

func TestBrokenLinks_FindsMissingFilesAndAnchors(t *testing.T) {
	root := t.TempDir()
	write := func(rel, src string) { writeTree(t, root, rel, src) }
	write("README.md", strings.Join([]string{
		"# Top",
		"## The tutorial's walk-through",
		"[ok](docs/a.md) [ok anchor](docs/a.md#gatehouse-as-an-mcp-server-mcp) [dir](docs/)",
		"[self](#the-tutorials-walk-through) [bad self](#nowhere)",
		"[missing](docs/gone.md) [bad anchor](docs/a.md#no-such-heading)",
		"[outside](../elsewhere.md) [web](https://example.com/x.md) `[code](docs/code.md)`",
		"```",
		"[fenced](docs/fenced.md)",
		"```",
	}, "\n"))
	write("docs/a.md", strings.Join([]string{
		"# A",
		"## Gatehouse as an MCP server: `/mcp`",
		"```python",
		"# Not a heading",
		"```",
		"[back](../README.md#top) [second](#a-1) [fenced heading](#not-a-heading)",
		"## A",
	}, "\n"))

	got, err := brokenLinks(root, []string{"README.md", "docs/a.md"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"README.md: #nowhere: no heading with that anchor",
		"README.md: ../elsewhere.md: outside the repository",
		"README.md: docs/a.md#no-such-heading: no heading with that anchor",
		"README.md: docs/gone.md: no such file",
		"docs/a.md: #not-a-heading: no heading with that anchor",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("broken links (-want +got):\n%s", diff)
	}
}

var (
	mdLink     = regexp.MustCompile(`\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)`)
	inlineCode = regexp.MustCompile("`[^`]*`")
)

// brokenLinks lists, sorted, the relative links of the given Markdown files
// (paths relative to root) that point to a missing file, outside root, or to
// a heading anchor the target file lacks.
func brokenLinks(root string, files []string) ([]string, error) {
	var problems []string
	for _, f := range files {
		targets, err := linkTargets(root, f)
		if err != nil {
			return nil, err
		}
		for _, target := range targets {
			if p := checkLink(root, f, target); p != "" {
				problems = append(problems, fmt.Sprintf("%s: %s: %s", f, target, p))
			}
		}
	}
	slices.Sort(problems)
	return problems, nil
}

// checkLink says what is wrong with one relative link of file, or "".
func checkLink(root, file, target string) string {
	path, anchor, _ := strings.Cut(target, "#")
	dest := filepath.Join(root, filepath.FromSlash(file))
	if path != "" {
		dest = filepath.Join(filepath.Dir(dest), filepath.FromSlash(path))
		if rel, err := filepath.Rel(root, dest); err != nil || strings.HasPrefix(rel, "..") {
			return "outside the repository"
		}
		if _, err := os.Stat(dest); err != nil {
			return "no such file"
		}
	}
	if anchor == "" || !strings.HasSuffix(dest, ".md") {
		return ""
	}
	b, err := os.ReadFile(dest)
	if err != nil {
		return err.Error()
	}
	if !slices.Contains(headingAnchors(string(b)), anchor) {
		return "no heading with that anchor"
	}
	return ""
}

// linkTargets returns the relative link targets of one Markdown file (a path
// relative to root), as written, leaving out links in code and links with a
// scheme.
func linkTargets(root, file string) ([]string, error) {
	b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(file)))
	if err != nil {
		return nil, err
	}
	var targets []string
	for _, line := range outsideFences(string(b)) {
		for _, m := range mdLink.FindAllStringSubmatch(inlineCode.ReplaceAllString(line, ""), -1) {
			if t := m[1]; !strings.Contains(t, ":") {
				targets = append(targets, t)
			}
		}
	}
	return targets, nil
}

// outsideFences returns the lines of a Markdown text that are not inside a
// fenced code block.
func outsideFences(text string) []string {
	var lines []string
	fenced := false
	for _, line := range strings.Split(text, "\n") {
		if t := strings.TrimSpace(line); strings.HasPrefix(t, "```") || strings.HasPrefix(t, "~~~") {
			fenced = !fenced
			continue
		}
		if !fenced {
			lines = append(lines, line)
		}
	}
	return lines
}

// headingAnchors returns the anchors GitHub gives a file's headings: lower
// case, punctuation dropped, spaces as hyphens, repeats suffixed -1, -2, ….
func headingAnchors(text string) []string {
	var anchors []string
	seen := map[string]int{}
	for _, line := range outsideFences(text) {
		title, ok := strings.CutPrefix(strings.TrimLeft(line, "#"), " ")
		if !ok || !strings.HasPrefix(line, "#") {
			continue
		}
		var b strings.Builder
		for _, r := range strings.ToLower(strings.TrimSpace(title)) {
			switch {
			case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_':
				b.WriteRune(r)
			case r == ' ':
				b.WriteRune('-')
			}
		}
		a := b.String()
		if n := seen[a]; n > 0 {
			anchors = append(anchors, fmt.Sprintf("%s-%d", a, n))
		} else {
			anchors = append(anchors, a)
		}
		seen[a]++
	}
	return anchors
}
