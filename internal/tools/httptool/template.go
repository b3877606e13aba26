package httptool

import (
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

var placeholderRE = regexp.MustCompile(`\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// notUnreserved reports a rune outside RFC 3986's unreserved set.
func notUnreserved(r rune) bool {
	return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '_' || r == '~')
}

// urlTemplate is a URL with {param} placeholders in its path and query.
type urlTemplate struct {
	origin   string   // scheme://host[:port], fixed
	segments []string // the escaped path split at "/", placeholders unfilled
	query    string   // the raw query, placeholders unfilled
	names    []string // the placeholders, in order of first appearance
}

func parseTemplate(raw string) (*urlTemplate, error) {
	rest, ok := strings.CutPrefix(raw, "https://")
	scheme := "https"
	if !ok {
		if rest, ok = strings.CutPrefix(raw, "http://"); !ok {
			return nil, fmt.Errorf("url must start with http:// or https://")
		}
		scheme = "http"
	}
	if strings.Contains(raw, "#") {
		return nil, fmt.Errorf("url must not have a fragment")
	}
	host, pathQuery := rest, ""
	if i := strings.IndexAny(rest, "/?"); i >= 0 {
		host, pathQuery = rest[:i], rest[i:]
	}
	if host == "" || strings.ContainsAny(host, "{}@") {
		return nil, fmt.Errorf("url host must be fixed, without placeholders or user info")
	}
	path, query, _ := strings.Cut(pathQuery, "?")
	t := &urlTemplate{origin: scheme + "://" + host, segments: strings.Split(path, "/"), query: query}
	if path == "" {
		t.segments = nil
	}
	seen := map[string]bool{}
	for _, m := range placeholderRE.FindAllStringSubmatch(pathQuery, -1) {
		if !seen[m[1]] {
			seen[m[1]] = true
			t.names = append(t.names, m[1])
		}
	}
	if strings.ContainsAny(placeholderRE.ReplaceAllString(pathQuery, "x"), "{}") {
		return nil, fmt.Errorf("url has a malformed placeholder")
	}
	for _, seg := range t.segments {
		if seg == "." || seg == ".." {
			return nil, fmt.Errorf("url path must not contain . or .. segments")
		}
	}
	// An encoded dot next to a placeholder could spell a dot segment once
	// filled ("%2E{x}" with x = "."); it has no other use in a path.
	if strings.Contains(strings.ToLower(path), "%2e") {
		return nil, fmt.Errorf("url path must not contain %%2E (an encoded dot)")
	}
	// The template, filled with a plain value, must already be a URL in
	// escaped form: what is sent is exactly what the operator wrote.
	probe := placeholderRE.ReplaceAllString(raw, "x")
	u, err := url.Parse(probe)
	if err != nil {
		return nil, fmt.Errorf("parse url: %w", err)
	}
	if u.Host != host || u.User != nil || u.EscapedPath() != placeholderRE.ReplaceAllString(path, "x") {
		return nil, fmt.Errorf("url must be in escaped form, without user info")
	}
	return t, nil
}

// fill builds the URL for one call. Each path placeholder becomes one escaped
// path segment part; each query placeholder one escaped query value. The
// result is checked again after building, so no argument can change the
// host or the number of path segments.
//
// A path argument may hold only RFC 3986 unreserved characters (letters,
// digits, '-', '.', '_', '~'); anything else is refused rather than
// escaped. Escaped, it could not change the path as sent, but a backend or
// proxy that decodes %2F before routing (or decodes twice, reads '\' as
// '/', cuts at ';' as Tomcat does, or folds Unicode look-alikes such as
// '／' or '．') would see another path. Other values belong in a query or
// body parameter, which are sent as data.
func (t *urlTemplate) fill(args map[string]any) (*url.URL, error) {
	segments := make([]string, len(t.segments))
	for i, seg := range t.segments {
		var err error
		segments[i] = placeholderRE.ReplaceAllStringFunc(seg, func(m string) string {
			name := m[1 : len(m)-1]
			s, e := scalarString(args, name)
			if e == nil && strings.IndexFunc(s, notUnreserved) >= 0 {
				e = fmt.Errorf("argument %s may hold only letters, digits, '-', '.', '_' and '~' (it is part of the URL path)", name)
			}
			if e != nil && err == nil {
				err = e
			}
			return url.PathEscape(s)
		})
		if err != nil {
			return nil, err
		}
		if placeholderRE.MatchString(seg) && (segments[i] == "" || segments[i] == "." || segments[i] == "..") {
			return nil, fmt.Errorf("argument makes an empty, . or .. path segment")
		}
	}
	var qerr error
	query := placeholderRE.ReplaceAllStringFunc(t.query, func(m string) string {
		s, e := scalarString(args, m[1:len(m)-1])
		if e != nil && qerr == nil {
			qerr = e
		}
		return url.QueryEscape(s)
	})
	if qerr != nil {
		return nil, qerr
	}
	path := strings.Join(segments, "/")
	u, err := url.Parse(t.origin + path)
	if err != nil {
		// url.Error repeats the URL, whose host may be internal.
		return nil, fmt.Errorf("build url: arguments do not form a valid URL")
	}
	// Belt and braces: the parsed URL must keep the template's origin, the
	// exact escaped path built above and its segment count.
	if u.Scheme+"://"+u.Host != t.origin || u.EscapedPath() != path || u.RawQuery != "" ||
		(len(t.segments) > 0 && strings.Count(u.EscapedPath(), "/") != len(t.segments)-1) {
		return nil, fmt.Errorf("build url: arguments would change the path")
	}
	u.RawQuery = query
	return u, nil
}

// hasQueryKey reports whether the template's own query holds key, compared
// as a backend would read it: unescaped, split at & or ;, ignoring case.
func (t *urlTemplate) hasQueryKey(key string) bool {
	for _, pair := range strings.FieldsFunc(t.query, func(r rune) bool { return r == '&' || r == ';' }) {
		k, _, _ := strings.Cut(pair, "=")
		if u, err := url.QueryUnescape(k); err == nil {
			k = u
		}
		if strings.EqualFold(k, key) {
			return true
		}
	}
	return false
}

// scalarString renders a placeholder's argument. Only strings and integers
// are accepted (New checks the schema; this guards against a caller that
// did not validate).
func scalarString(args map[string]any, name string) (string, error) {
	switch v := args[name].(type) {
	case string:
		return v, nil
	case int64:
		return strconv.FormatInt(v, 10), nil
	case nil:
		return "", fmt.Errorf("argument %s is missing", name)
	}
	return "", fmt.Errorf("argument %s must be a string or integer", name)
}
