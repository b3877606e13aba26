package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/gatehousehq/gatehouse/internal/tools/schema"
)

// maxJSONDepth bounds the nesting of a request body.
const maxJSONDepth = 32

// readBody reads the whole body, within the server's bound, and checks it
// is one strict JSON value (checkStrictJSON).
func readBody(r *http.Request) ([]byte, error) {
	body, err := readAll(r)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, errTooLarge
		}
		return nil, errBadRequest("could not read the request body")
	}
	if err := checkStrictJSON(body); err != nil {
		return nil, err
	}
	return body, nil
}

// readAll reads r's body into one buffer of its Content-Length, when
// that is within the request's body bound (the length is the caller's to
// claim), where io.ReadAll would start at 512 bytes and grow. The bound
// itself is http.MaxBytesReader's, set by base, whatever the length said.
func readAll(r *http.Request) ([]byte, error) {
	n := r.ContentLength
	rt := infoFrom(r.Context()).rt
	if n <= 0 || rt == nil || n > rt.MaxBodyBytes {
		return io.ReadAll(r.Body)
	}
	buf := make([]byte, 0, n+1) // one more: EOF is seen without growing
	for {
		m, err := r.Body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+m]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
	}
}

// checkStrictJSON refuses a body a lenient reader and gatehouse could read
// differently: more than one value, an object naming a key twice, invalid
// Unicode (schema.CheckUnicode: encoding/json would turn invalid UTF-8 and
// lone surrogates into U+FFFD and run it), or nesting deeper than
// maxJSONDepth.
func checkStrictJSON(body []byte) error {
	if err := schema.CheckUnicode(body); err != nil {
		return errBadRequest("malformed JSON: invalid Unicode: " + err.Error())
	}
	if strictValid(body) {
		return nil
	}
	return explainStrict(body)
}

// strictValid is the common case's fast check: body is one JSON value
// with no object naming a key twice (jsontext refuses duplicates and
// invalid UTF-8 by default) nested at most maxJSONDepth deep. jsontext
// validates with a pooled decoder, allocating nothing once warm (encoding/
// json's token reader allocated at each token and was a tenth of a
// pass-through request's CPU); the depth of a value known valid is a
// count of brackets outside strings. A body it refuses goes to
// explainStrict, which says why.
func strictValid(body []byte) bool {
	return jsontext.Value(body).IsValid() && depth(body) <= maxJSONDepth
}

// depth is the deepest nesting of objects and arrays in body, which must
// be valid JSON.
func depth(body []byte) int {
	d, deepest, inString := 0, 0, false
	for i := 0; i < len(body); i++ {
		c := body[i]
		if inString {
			switch c {
			case '\\':
				i++ // the escaped character, which cannot end the string
			case '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '{', '[':
			d++
			deepest = max(deepest, d)
		case '}', ']':
			d--
		}
	}
	return deepest
}

// explainStrict checks body token by token, as strictValid does, and
// returns the error that says what is wrong with it (nil if nothing is).
func explainStrict(body []byte) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	type frame struct {
		object bool
		keys   map[string]bool
		key    bool // an object expects a key next
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			if len(stack) != 0 {
				return errBadRequest("malformed JSON: unexpected end")
			}
			return errBadRequest("malformed JSON: the body is empty")
		}
		if err != nil {
			return errBadRequest("malformed JSON: " + err.Error())
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{', '[':
				if top != nil && top.object {
					top.key = true
				}
				if len(stack) >= maxJSONDepth {
					return errBadRequest(fmt.Sprintf("malformed JSON: nested deeper than %d", maxJSONDepth))
				}
				stack = append(stack, &frame{object: v == '{', keys: map[string]bool{}, key: true})
				continue
			default:
				stack = stack[:len(stack)-1]
				if len(stack) > 0 {
					if p := stack[len(stack)-1]; p.object {
						p.key = true
					}
				}
			}
		case string:
			if top != nil && top.object && top.key {
				if top.keys[v] {
					return errBadRequest(fmt.Sprintf("malformed JSON: key %s given twice", quoteInput(v)))
				}
				top.keys[v] = true
				top.key = false
				continue
			}
			if top != nil && top.object {
				top.key = true
			}
		default:
			if top != nil && top.object {
				top.key = true
			}
		}
		if len(stack) == 0 {
			if _, err := dec.Token(); err != io.EOF {
				return errBadRequest("malformed JSON: more than one value")
			}
			return nil
		}
	}
}

// strictObject decodes raw (already checked by checkStrictJSON) as one
// object whose keys are all in allowed, spelt exactly.
func strictObject(raw json.RawMessage, allowed []string) (map[string]json.RawMessage, error) {
	var obj map[string]json.RawMessage
	if len(raw) == 0 || raw[0] != '{' || json.Unmarshal(raw, &obj) != nil {
		return nil, errBadRequest("malformed JSON: expected an object")
	}
	for k := range obj {
		if !slices.Contains(allowed, k) {
			return nil, errBadRequest(fmt.Sprintf("unknown field %s", quoteInput(k)))
		}
	}
	return obj, nil
}
