package httpapi

import (
	"strings"
	"testing"
)

// The fast check and the explaining one agree: whatever strictValid
// accepts explainStrict accepts, and whatever it refuses explainStrict
// refuses with a reason.
func FuzzStrictJSON(f *testing.F) {
	for _, s := range []string{
		`{}`, `[]`, `"x"`, `1`, `-0.5e10`, `true`, `null`, ` {"a":1} `,
		`{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":true}`,
		`{"a":{"a":1},"b":{"a":2}}`, `[{"a":1},{"a":1}]`, `{"a":"\u00e9","\u00e9":1}`,
		`{"a":1,"a":2}`, `{"a":1,"\u0061":2}`, `{"a":{"b":1,"b":2}}`, `{"A":1,"a":2}`,
		`{"a":1}{"b":2}`, `{"a":1} x`, `{"a":1`, `{"a" 1}`, `{a:1}`, `[1,]`, `{"a":1,}`, ``, ` `,
		`{"a":01}`, `"\x"`, `{"a":[` + strings.Repeat("[", 30) + strings.Repeat("]", 30) + `]}`,
		strings.Repeat("[", maxJSONDepth) + strings.Repeat("]", maxJSONDepth),
		strings.Repeat("[", maxJSONDepth+1) + strings.Repeat("]", maxJSONDepth+1),
		`{"a":"` + "\xff" + `"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		err := explainStrict(body)
		if strictValid(body) && err != nil {
			t.Errorf("%q: the fast check accepts it, the explaining one says %v", body, err)
		}
		if !strictValid(body) && err == nil && checkStrictJSON(body) == nil {
			t.Errorf("%q: refused by the fast check, accepted by checkStrictJSON with no reason", body)
		}
	})
}

func TestStrictJSON_DepthBoundIsTheSameForBothChecks(t *testing.T) {
	ok := strings.Repeat("[", maxJSONDepth) + strings.Repeat("]", maxJSONDepth)
	deep := "[" + ok + "]"
	if !strictValid([]byte(ok)) || explainStrict([]byte(ok)) != nil {
		t.Errorf("nesting of exactly %d refused", maxJSONDepth)
	}
	if strictValid([]byte(deep)) || explainStrict([]byte(deep)) == nil {
		t.Errorf("nesting of %d accepted", maxJSONDepth+1)
	}
}
