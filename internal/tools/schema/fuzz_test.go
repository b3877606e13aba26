package schema

import (
	"bytes"
	"encoding/json"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzDecode checks that whatever Decode accepts is read the same way by
// every other reader: re-encoding and decoding again gives the same value,
// and encoding/json's own decode of the input gives the same map.
func FuzzDecode(f *testing.F) {
	for _, seed := range []string{
		`{}`, `{"name":"ab","count":3,"ratio":0.5,"on":true,"field":"status","tags":["x"],"nested":{"k":"v"}}`,
		`{"name":"a","Name":"b"}`, `{"count":1,"count":2}`, `{"nested":{"k":"a","k":"b"}}`, `{"ratio":-0}`,
		`{"count":-0}`, `{"ratio":1e308}`, `{"name":"\u00e9\ud83d\ude00"}`, `{"name":"\ud800"}`, `[]`, `null`,
		`{"x":1}`, `{} {}`, `{"tags":[1]}`, `{"name":"<&>"}`,
	} {
		f.Add([]byte(seed))
	}
	s := mustCompile(f, richSchema)
	f.Fuzz(func(t *testing.T, raw []byte) {
		got, err := s.Decode(raw)
		if err != nil {
			return
		}
		again, err := json.Marshal(got)
		if err != nil {
			t.Fatalf("Marshal(%v): %v", got, err)
		}
		got2, err := s.Decode(again)
		if err != nil {
			t.Fatalf("Decode(%s) of re-encoded %q: %v", again, raw, err)
		}
		if diff := cmp.Diff(got, got2); diff != "" {
			t.Fatalf("re-decode of %q differs (-first +second):\n%s", raw, diff)
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		var std map[string]any
		if err := dec.Decode(&std); err != nil {
			t.Fatalf("encoding/json refused %q that Decode accepted: %v", raw, err)
		}
		if !sameValue(map[string]any(got), std) {
			t.Fatalf("encoding/json reads %q differently: ours %#v, std %#v", raw, got, std)
		}
	})
}

// sameValue compares our typed value with encoding/json's UseNumber decode.
func sameValue(ours, std any) bool {
	switch o := ours.(type) {
	case map[string]any:
		m, ok := std.(map[string]any)
		if !ok || len(m) != len(o) {
			return false
		}
		for k, v := range o {
			sv, ok := m[k]
			if !ok || !sameValue(v, sv) {
				return false
			}
		}
		return true
	case []any:
		l, ok := std.([]any)
		if !ok || len(l) != len(o) {
			return false
		}
		for i := range o {
			if !sameValue(o[i], l[i]) {
				return false
			}
		}
		return true
	case int64:
		num, ok := std.(json.Number)
		i, err := strconv.ParseInt(string(num), 10, 64)
		return ok && err == nil && i == o
	case float64:
		num, ok := std.(json.Number)
		f, err := strconv.ParseFloat(string(num), 64)
		return ok && err == nil && f == o
	case string, bool:
		return ours == std
	}
	return false
}
