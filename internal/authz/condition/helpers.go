package condition

import (
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"path"
	"strings"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
)

// helpers are the functions conditions may call for the checks people get
// wrong by hand (SPEC "MCP"):
//
//   - path_within(path, dir): true only if path, cleaned, is an absolute
//     path equal to dir or below it. It is lexical: "..", ".", doubled and
//     trailing slashes are resolved before comparing, a NUL byte or a
//     relative path is never within, and "/srv/docs-private" is not within
//     "/srv/docs" (the comparison is by path element, not by string
//     prefix). It cannot see symlinks — the path may be on another host — so
//     a server reading files must itself be confined to dir (start the MCP
//     filesystem server with dir as its only root: it resolves symlinks and
//     refuses any that lead outside).
//   - url_host(url): the host of an absolute http(s) URL, lower-cased, without
//     port or userinfo ("" for anything else), so `url_host(args.url) ==
//     "api.example.com"` is not fooled by "https://api.example.com@evil.test/"
//     or "https://api.example.com.evil.test/".
//   - sha256(s): the lower-case hex SHA-256 of s, to compare a value with a
//     configured digest without writing the value into the config.
func helpers() []cel.EnvOption {
	return []cel.EnvOption{
		cel.Function("path_within",
			cel.Overload("path_within_string_string", []*cel.Type{cel.StringType, cel.StringType}, cel.BoolType,
				cel.BinaryBinding(func(p, dir ref.Val) ref.Val {
					ps, ok1 := p.(types.String)
					ds, ok2 := dir.(types.String)
					if !ok1 || !ok2 {
						return types.NewErr("path_within: arguments must be strings")
					}
					return types.Bool(PathWithin(string(ps), string(ds)))
				}))),
		stringFunction("url_host", URLHost),
		stringFunction("sha256", func(s string) string {
			sum := sha256.Sum256([]byte(s))
			return hex.EncodeToString(sum[:])
		}),
	}
}

// stringFunction is the CEL function name of one string, returning f of it.
func stringFunction(name string, f func(string) string) cel.EnvOption {
	return cel.Function(name,
		cel.Overload(name+"_string", []*cel.Type{cel.StringType}, cel.StringType,
			cel.UnaryBinding(func(v ref.Val) ref.Val {
				s, ok := v.(types.String)
				if !ok {
					return types.NewErr("%s: argument must be a string", name)
				}
				return types.String(f(string(s)))
			})))
}

// PathWithin reports whether p, cleaned, is dir or below it. Both must be
// absolute and free of NUL bytes; see helpers for what it does not check.
func PathWithin(p, dir string) bool {
	if strings.ContainsRune(p, 0) || strings.ContainsRune(dir, 0) ||
		!strings.HasPrefix(p, "/") || !strings.HasPrefix(dir, "/") {
		return false
	}
	// path.Clean resolves "." and ".." lexically (".." at the root stays at
	// the root), and removes doubled and trailing slashes.
	cp, cd := path.Clean(p), path.Clean(dir)
	if cd == "/" {
		return true
	}
	return cp == cd || strings.HasPrefix(cp, cd+"/")
}

// URLHost returns the lower-cased host of an absolute http or https URL,
// without port or userinfo, or "" when s is not one.
func URLHost(s string) string {
	if strings.ContainsAny(s, "\x00\\ \t\r\n") {
		return "" // parsers disagree about these; refuse rather than guess
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Opaque != "" {
		return ""
	}
	return strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
}
