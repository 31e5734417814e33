package policy

import (
	"fmt"

	pg_query "github.com/pganalyze/pg_query_go/v5"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// msgInfo describes one message type of pg_query's protobuf parse tree. The
// walker reads the wire bytes of the tree directly (decoding them into Go
// structs is what makes pg_query.Parse slow), so it needs, for every field
// number, whether the field holds a nested message and of which type.
type msgInfo struct {
	name   string           // e.g. "SelectStmt"
	visit  visitFunc        // how the walker judges it; nil: denied
	fields []fieldInfo      // indexed by field number; unknown numbers are absent
	byJSON map[string]int32 // JSON key (either spelling) → field number
}

type fieldInfo struct {
	name    string
	present bool
	msg     *msgInfo // non-nil for message-typed fields
	kind    protoreflect.Kind
	list    bool
	enum    map[string]int32 // value name → number, for enum fields
}

// field returns the description of field number n, or nil for a number the
// schema does not know (which the walker treats as a reason to deny).
func (m *msgInfo) field(n int32) *fieldInfo {
	if n <= 0 || int(n) >= len(m.fields) || !m.fields[n].present {
		return nil
	}
	return &m.fields[n]
}

// number returns the field number of the named field, or an error if the
// schema has no such field: the engine refuses to start rather than silently
// misreading a tree from another pg_query version.
func (m *msgInfo) number(name string) (int32, error) {
	for i, f := range m.fields {
		if f.present && f.name == name {
			return int32(i), nil
		}
	}
	return 0, fmt.Errorf("policy: pg_query schema: %s has no field %q", m.name, name)
}

// schema is the whole pg_query message set, built once per Engine from the
// protobuf descriptors compiled into pg_query_go.
type schema struct {
	byName      map[string]*msgInfo
	node        *msgInfo
	parseResult *msgInfo
	rawStmt     *msgInfo
	enums       map[protoreflect.FullName]map[string]int32
}

func newSchema() (*schema, error) {
	s := &schema{byName: map[string]*msgInfo{}, enums: map[protoreflect.FullName]map[string]int32{}}
	root := (&pg_query.ParseResult{}).ProtoReflect().Descriptor()
	s.parseResult = s.build(root)
	node := (&pg_query.Node{}).ProtoReflect().Descriptor()
	s.node = s.build(node)
	s.node.visit = (*walker).unwrap // a oneof around one concrete node
	// The scanner's result, for counting tokens before a parse.
	s.build((&pg_query.ScanResult{}).ProtoReflect().Descriptor())
	var ok bool
	if s.rawStmt, ok = s.byName["RawStmt"]; !ok {
		return nil, fmt.Errorf("policy: pg_query schema lacks RawStmt")
	}
	for name, m := range s.byName {
		if m != s.node {
			m.visit = visitor(name)
		}
	}
	return s, nil
}

// build registers d and every message reachable from it.
func (s *schema) build(d protoreflect.MessageDescriptor) *msgInfo {
	name := string(d.Name())
	if m, ok := s.byName[name]; ok {
		return m
	}
	m := &msgInfo{name: name, byJSON: map[string]int32{}}
	s.byName[name] = m
	fds := d.Fields()
	max := 0
	for i := 0; i < fds.Len(); i++ {
		if n := int(fds.Get(i).Number()); n > max {
			max = n
		}
	}
	m.fields = make([]fieldInfo, max+1)
	for i := 0; i < fds.Len(); i++ {
		fd := fds.Get(i)
		fi := fieldInfo{name: string(fd.Name()), present: true, kind: fd.Kind(), list: fd.IsList()}
		switch fd.Kind() {
		case protoreflect.MessageKind:
			fi.msg = s.build(fd.Message())
		case protoreflect.EnumKind:
			fi.enum = s.enum(fd.Enum())
		}
		m.fields[fd.Number()] = fi
		m.byJSON[fd.JSONName()] = int32(fd.Number())
		m.byJSON[string(fd.Name())] = int32(fd.Number())
	}
	return m
}

// enum returns the name → number table of an enum type.
func (s *schema) enum(d protoreflect.EnumDescriptor) map[string]int32 {
	if e, ok := s.enums[d.FullName()]; ok {
		return e
	}
	e := map[string]int32{}
	for i := 0; i < d.Values().Len(); i++ {
		v := d.Values().Get(i)
		e[string(v.Name())] = int32(v.Number())
	}
	s.enums[d.FullName()] = e
	return e
}
