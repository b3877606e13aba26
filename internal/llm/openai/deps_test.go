package openai_test

import (
	"os/exec"
	"strings"
	"testing"
)

// The packages that use a model know only package llm: pulling the SDK back
// into them (an import of this package or of openai-go) fails here.
func TestModelConsumersDoNotImportTheSDK(t *testing.T) {
	consumers := []string{"../../agent", "../../httpapi", "../../llm"}
	out, err := exec.Command("go", append([]string{"list", "-deps"}, consumers...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.HasPrefix(dep, "github.com/openai/openai-go") || strings.HasSuffix(dep, "/internal/llm/openai") {
			t.Errorf("%v depend on %s", consumers, dep)
		}
	}
}
