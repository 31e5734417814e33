package main

import (
	"encoding/json"
	"math"
	"strconv"
)

// num is a measured figure; NaN means "not measured" and travels as JSON
// null, which encoding/json cannot do for a bare float64.
type num float64

func (n num) MarshalJSON() ([]byte, error) {
	f := float64(n)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, f, 'g', 6, 64), nil
}

func (n *num) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*n = num(math.NaN())
		return nil
	}
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	*n = num(f)
	return nil
}

// ok says whether n holds a measurement.
func (n num) ok() bool { return !math.IsNaN(float64(n)) }

var nan = num(math.NaN())
