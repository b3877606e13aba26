package httpapi

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestRoutePermissions_ListsEveryProtectedRoute: the list config check
// warns from is the set of permissions the routes name.
func TestRoutePermissions_ListsEveryProtectedRoute(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	protect := regexp.MustCompile(`protect(?:Run)?\("([^"]+)"`)
	got := []string{mcpPermission}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range protect.FindAllSubmatch(b, -1) {
			// "a|b": a route any of several permissions opens.
			got = append(got, strings.Split(string(m[1]), "|")...)
		}
	}
	slices.Sort(got)
	got = slices.Compact(got)
	want := slices.Sorted(slices.Values(RoutePermissions))
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("RoutePermissions differs from the routes' permissions (-list +routes):\n%s", diff)
	}
}
