package config

import (
	"reflect"
	"strings"
)

// Changed lists the keys whose values differ between a and b, as dotted
// YAML paths ("proxy.listen", "backend.pool.max"), in file order.
// Sections are compared field by field; maps, lists and pointers as a
// whole ("profiles", "mcp.tokens"), so a key never carries a value: MCP
// tokens are map keys.
func Changed(a, b *Config) []string {
	var out []string
	changedFields(reflect.ValueOf(*a), reflect.ValueOf(*b), "", &out)
	return out
}

func changedFields(a, b reflect.Value, prefix string, out *[]string) {
	t := a.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		name := yamlName(f)
		if name == "" {
			continue
		}
		fa, fb := a.Field(i), b.Field(i)
		key := prefix + name
		if fa.Kind() == reflect.Struct && hasYAMLFields(f.Type) {
			changedFields(fa, fb, key+".", out)
			continue
		}
		if !reflect.DeepEqual(fa.Interface(), fb.Interface()) {
			*out = append(*out, key)
		}
	}
}

// yamlName is the key yaml.v3 decodes a field from; "" for fields it
// skips.
func yamlName(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	switch name {
	case "-":
		return ""
	case "":
		return strings.ToLower(f.Name)
	}
	return name
}

// hasYAMLFields tells a section from a value that happens to be a struct
// (a time, a key): only sections are compared field by field.
func hasYAMLFields(t reflect.Type) bool {
	for i := range t.NumField() {
		if _, ok := t.Field(i).Tag.Lookup("yaml"); ok {
			return true
		}
	}
	return false
}
