package condition

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
)

// argsTypeName is the CEL type name of a tool's arguments while checking;
// nested objects are named by their path below it.
const argsTypeName = "gatehouse.Args"

// argsProvider declares the object types of one tool's arguments, from its
// JSON schema, on top of the registry of the principal and tool types. It
// serves only the checker: programs are planned in the shared Env, where
// args is a map, so what runs is what ran before type-checking existed.
type argsProvider struct {
	*types.Registry
	structs map[string]map[string]*types.Type // type name → field → type
}

func (p *argsProvider) FindStructType(name string) (*types.Type, bool) {
	if _, ok := p.structs[name]; ok {
		return types.NewTypeTypeWithParam(types.NewObjectType(name)), true
	}
	return p.Registry.FindStructType(name)
}

func (p *argsProvider) FindStructFieldNames(name string) ([]string, bool) {
	if fields, ok := p.structs[name]; ok {
		return slices.Sorted(maps.Keys(fields)), true
	}
	return p.Registry.FindStructFieldNames(name)
}

func (p *argsProvider) FindStructFieldType(name, field string) (*types.FieldType, bool) {
	if fields, ok := p.structs[name]; ok {
		t, ok := fields[field]
		if !ok {
			return nil, false
		}
		return &types.FieldType{Type: t}, true
	}
	return p.Registry.FindStructFieldType(name, field)
}

// jsonSchema is the part of a tool's parameters schema the checker reads;
// schema.Compile has validated the whole of it before.
type jsonSchema struct {
	Type       string                `json:"type"`
	Properties map[string]jsonSchema `json:"properties"`
	Items      *jsonSchema           `json:"items"`
}

// celType declares s as a CEL type, registering object types with
// properties in p under name.
func (p *argsProvider) celType(s jsonSchema, name string) *types.Type {
	switch s.Type {
	case "string":
		return types.StringType
	case "integer":
		return types.IntType
	case "number":
		return types.DoubleType
	case "boolean":
		return types.BoolType
	case "array":
		if s.Items == nil {
			return types.NewListType(types.DynType)
		}
		return types.NewListType(p.celType(*s.Items, name+"._items"))
	case "object":
		if len(s.Properties) == 0 {
			return types.NewMapType(types.StringType, types.DynType)
		}
		fields := make(map[string]*types.Type, len(s.Properties))
		for k, v := range s.Properties {
			fields[k] = p.celType(v, name+"."+k)
		}
		p.structs[name] = fields
		return types.NewObjectType(name)
	}
	return types.DynType
}

// CompileFor compiles expr as Compile does, and type-checks it against the
// tool's arguments schema (its JSON schema, as the tool declares it): a
// field the schema does not declare, or a value used as a type it is not,
// is a compile error naming the field or the types. A nil schema (a tool
// whose arguments are only known at run time, such as an MCP server's)
// checks args as a map of any values, as Compile does.
func (e *Env) CompileFor(expr string, argsSchema json.RawMessage) (*Condition, error) {
	c, err := e.Compile(expr)
	if err != nil || len(argsSchema) == 0 {
		return c, err
	}
	var s jsonSchema
	if err := json.Unmarshal(argsSchema, &s); err != nil {
		return nil, fmt.Errorf("read arguments schema: %w", err)
	}
	checker, props, err := checkerFor(s)
	if err != nil {
		return nil, err
	}
	if _, iss := checker.Compile(expr); iss.Err() != nil {
		ce := issueError(iss).(*Error)
		if strings.Contains(ce.Msg, "undefined field") {
			ce.Msg += fmt.Sprintf(" (the tool's arguments are: %s)", strings.Join(props, ", "))
		}
		return nil, ce
	}
	return c, nil
}

// checkerFor builds the environment that checks conditions of one tool:
// the shared declarations, with args typed by s.
func checkerFor(s jsonSchema) (*cel.Env, []string, error) {
	reg, err := types.NewRegistry()
	if err != nil {
		return nil, nil, fmt.Errorf("build condition checker: %w", err)
	}
	p := &argsProvider{Registry: reg, structs: map[string]map[string]*types.Type{}}
	argsType := p.celType(s, argsTypeName)
	opts := append([]cel.EnvOption{cel.CustomTypeProvider(p)}, envOptions(argsType)...)
	env, err := cel.NewEnv(opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("build condition checker: %w", err)
	}
	props := slices.Sorted(maps.Keys(s.Properties))
	if len(props) == 0 {
		props = []string{"none"}
	}
	return env, props, nil
}
