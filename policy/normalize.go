package policy

import (
	"encoding/json"
	"strconv"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v5"
)

// Type OIDs PostgreSQL gives literals (make_const in parse_node.c).
const (
	oidBool    = 16
	oidInt8    = 20
	oidInt4    = 23
	oidBit     = 1560
	oidNumeric = 1700
)

// NormalizeTyped is Normalize plus, for each placeholder it made, the
// type PostgreSQL gives the literal it replaced: int4 or int8 for an
// integer, numeric for a decimal, bool, bit; 0 (to be inferred, as a
// quoted literal is) for strings and NULL. oids is indexed by parameter
// number - 1 and is 0 for the text's own $n. Preparing the normalized
// text with them resolves functions and operators as the literal text
// did: generate_series($1, $2) with two int4s, not two unknowns.
func NormalizeTyped(sql string) (text string, oids []uint32) {
	text = Normalize(sql)
	if text == "" {
		return "", nil
	}
	orig, err1 := parseJSON(sql)
	norm, err2 := parseJSON(text)
	if err1 != nil || err2 != nil {
		return text, nil
	}
	found := map[int]uint32{}
	literalTypes(orig, norm, found)
	for n, oid := range found {
		for len(oids) < n {
			oids = append(oids, 0)
		}
		oids[n-1] = oid
	}
	return text, oids
}

func parseJSON(sql string) (any, error) {
	s, err := pg_query.ParseToJSON(sql)
	if err != nil {
		return nil, err
	}
	var tree any
	err = json.Unmarshal([]byte(s), &tree)
	return tree, err
}

// literalTypes walks the original and the normalized tree side by side;
// they differ only where a literal became a ParamRef. Each such pair
// records the literal's type under the parameter's number.
func literalTypes(orig, norm any, found map[int]uint32) {
	switch n := norm.(type) {
	case map[string]any:
		o, ok := orig.(map[string]any)
		if !ok {
			return
		}
		if ref, ok := n["ParamRef"].(map[string]any); ok {
			if c, ok := o["A_Const"].(map[string]any); ok {
				if num, ok := ref["number"].(float64); ok && num >= 1 {
					found[int(num)] = constType(c)
				}
			}
			return
		}
		for k, v := range n {
			if k != "location" {
				literalTypes(o[k], v, found)
			}
		}
	case []any:
		o, ok := orig.([]any)
		if !ok || len(o) != len(n) {
			return
		}
		for i := range n {
			literalTypes(o[i], n[i], found)
		}
	}
}

// constType is the type of an A_Const as the server types it.
func constType(c map[string]any) uint32 {
	switch {
	case c["ival"] != nil:
		return oidInt4
	case c["boolval"] != nil:
		return oidBool
	case c["bsval"] != nil:
		return oidBit
	case c["fval"] != nil:
		f, _ := c["fval"].(map[string]any)
		s, _ := f["fval"].(string)
		if !strings.ContainsAny(s, ".eE") {
			if _, err := strconv.ParseInt(s, 10, 64); err == nil {
				return oidInt8 // an integer too large for int4
			}
		}
		return oidNumeric
	}
	return 0 // a string or NULL: inferred from where it stands
}
