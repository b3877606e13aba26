package authz

import "context"

// Finding is a data protection finding in a call's arguments, as
// conditions and approval rules see it (CEL: findings, each {type, path}).
type Finding struct {
	Type string
	Path string
}

type findingsKey struct{}

// WithFindings returns ctx carrying the findings of the call being
// decided. They travel with the decision's context rather than as another
// argument of every Condition: a condition that does not read them costs
// nothing.
func WithFindings(ctx context.Context, fs []Finding) context.Context {
	return context.WithValue(ctx, findingsKey{}, fs)
}

// FindingsFrom returns the findings ctx carries (none when it carries none).
func FindingsFrom(ctx context.Context) []Finding {
	fs, _ := ctx.Value(findingsKey{}).([]Finding)
	return fs
}
