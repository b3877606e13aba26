package dlp

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
)

// Finding is a finding in a tool call's arguments, as policy sees it
// (CEL's findings: each {type, path}): a value a detector found, or a
// token standing for one.
type Finding struct {
	Type string `json:"type"`
	Path string `json:"path"` // where in the arguments: customer.card, items[0]
}

// Findings are the findings in a call's raw JSON arguments, in path order.
// Arguments that are not JSON are scanned as one text at path "".
func (p *Protector) Findings(raw string) []Finding {
	var v any
	if err := json.Unmarshal([]byte(raw), &v); err != nil {
		v = raw
	}
	var out []Finding
	walk(v, "", func(path, s string) {
		for _, sp := range p.spans(s) {
			out = append(out, Finding{Type: sp.Type, Path: path})
		}
		for _, typ := range TokenTypes(s) {
			out = append(out, Finding{Type: typ, Path: path})
		}
	})
	return out
}

// walk calls f with every string in v (a decoded JSON value) and its path.
func walk(v any, path string, f func(path, s string)) {
	switch x := v.(type) {
	case string:
		f(path, x)
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			sub := k
			if path != "" {
				sub = path + "." + k
			}
			walk(x[k], sub, f)
		}
	case []any:
		for i, e := range x {
			walk(e, path+"["+strconv.Itoa(i)+"]", f)
		}
	}
}

// DetokenizeArgs returns args (decoded JSON: maps, slices, strings…) with
// every token in its strings replaced by its value, for the tool to run
// with. args itself is not changed. A token not made for sc refuses the
// call with an error wrapping ErrUnknownToken.
func (p *Protector) DetokenizeArgs(ctx context.Context, sc Scope, args map[string]any) (map[string]any, error) {
	out, err := p.detokenizeValue(ctx, sc, args)
	if err != nil {
		return nil, err
	}
	m, _ := out.(map[string]any)
	return m, nil
}

func (p *Protector) detokenizeValue(ctx context.Context, sc Scope, v any) (any, error) {
	switch x := v.(type) {
	case string:
		return p.Detokenize(ctx, sc, x)
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			d, err := p.detokenizeValue(ctx, sc, e)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			out[k] = d
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			d, err := p.detokenizeValue(ctx, sc, e)
			if err != nil {
				return nil, err
			}
			out[i] = d
		}
		return out, nil
	}
	return v, nil
}
