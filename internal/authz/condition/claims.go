package condition

import (
	"slices"

	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/types"
)

// ClaimsRead names the claims the condition reads (principal.claims.x,
// principal.claims["x"]), sorted; all is true when it reads them in a way
// that cannot be named (ranging over them, a computed key), so every claim
// may matter. The audit log records these with a tool's decision, so the
// decision can be replayed under another policy (policy diff).
func (c *Condition) ClaimsRead() (names []string, all bool) {
	return slices.Clone(c.claims), c.allClaims
}

// claimsRead walks a checked expression for its uses of principal.claims.
func claimsRead(root ast.Expr) (names []string, all bool) {
	uses, named := 0, 0
	visit := func(e ast.Expr) {
		switch e.Kind() {
		case ast.SelectKind:
			if isClaims(e) {
				uses++
			} else if s := e.AsSelect(); isClaims(s.Operand()) {
				named++
				names = append(names, s.FieldName())
			}
		case ast.CallKind:
			call := e.AsCall()
			if args := call.Args(); call.FunctionName() == "_[_]" && len(args) == 2 && isClaims(args[0]) && args[1].Kind() == ast.LiteralKind {
				if key, ok := args[1].AsLiteral().(types.String); ok {
					named++
					names = append(names, string(key))
				}
			}
		}
	}
	ast.PreOrderVisit(root, ast.NewExprVisitor(visit))
	slices.Sort(names)
	return slices.Compact(names), uses > named
}

// isClaims reports whether e is principal.claims.
func isClaims(e ast.Expr) bool {
	if e.Kind() != ast.SelectKind {
		return false
	}
	s := e.AsSelect()
	op := s.Operand()
	return s.FieldName() == "claims" && op.Kind() == ast.IdentKind && op.AsIdent() == "principal"
}
