package config

import (
	"fmt"
	"time"

	"gopkg.in/yaml.v3"
)

// Duration is a time.Duration written as Go duration text ("500ms", "5s",
// "2m") in the config file.
type Duration time.Duration

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// UnmarshalYAML parses Go duration text and says what is expected when the
// text is not one.
func (d *Duration) UnmarshalYAML(node *yaml.Node) error {
	v, err := time.ParseDuration(node.Value)
	if err != nil || node.Kind != yaml.ScalarNode {
		return &FieldError{Line: node.Line, Msg: fmt.Sprintf("%q is not a duration (write it like 500ms, 5s or 2m)", node.Value)}
	}
	*d = Duration(v)
	return nil
}

// MarshalText writes the duration back as Go duration text.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }
