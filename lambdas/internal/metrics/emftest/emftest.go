// Package emftest reads embedded metric format (EMF) documents back for
// tests: Validate checks one against the rules of the specification
// (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html)
// independently of the encoder in package metrics, and Lines parses what a
// recorder wrote into Docs whose values a test compares. Only tests import
// it.
package emftest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"testing"
)

// The specification's limits and units.
const (
	maxMetrics       = 100
	maxDimensionKeys = 30
	maxArrayValues   = 100
	maxNameLength    = 255
)

var units = []string{
	"Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes", "Terabytes",
	"Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count",
	"Bytes/Second", "Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second", "Terabytes/Second",
	"Bits/Second", "Kilobits/Second", "Megabits/Second", "Gigabits/Second", "Terabits/Second", "Count/Second", "None",
}

// Metric is one MetricDefinition with its value.
type Metric struct {
	Unit  string // "" when the definition has none
	Value float64
}

// Directive is one MetricDirective as read.
type Directive struct {
	Namespace  string
	Dimensions [][]string
	Metrics    []string // names, in order
}

// Doc is one valid EMF document.
type Doc struct {
	Timestamp  int64
	Directives []Directive
	// Root holds every root member but _aws, as decoded (numbers as
	// json.Number).
	Root map[string]any
	// Metrics holds every metric a directive defines, by name.
	Metrics map[string]Metric
}

// Dimension returns the string value of the root member name.
func (d Doc) Dimension(name string) string {
	s, _ := d.Root[name].(string)
	return s
}

// Validate parses line, one log event's message, as an EMF document and
// checks the specification's rules: a JSON object and nothing else; _aws
// an object with an integer Timestamp and a CloudWatchMetrics array; each
// directive with a Namespace (1 to 255 characters), at least one dimension
// set of at most 30 keys each naming a root member with a string value, and
// 1 to 100 metric definitions each naming a root member that is a number
// or an array of at most 100 numbers, with a Unit, when present, from
// CloudWatch's list. A metric with two definitions must have one unit.
func Validate(line []byte) (Doc, error) {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	var root map[string]any
	if err := dec.Decode(&root); err != nil {
		return Doc{}, fmt.Errorf("not a JSON object: %w", err)
	}
	if root == nil {
		return Doc{}, errors.New("not a JSON object: null")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Doc{}, errors.New("data after the JSON object")
	}
	aws, ok := root["_aws"].(map[string]any)
	if !ok {
		return Doc{}, errors.New("_aws: missing or not an object")
	}
	doc := Doc{Root: map[string]any{}, Metrics: map[string]Metric{}}
	for k, v := range root {
		if k != "_aws" {
			doc.Root[k] = v
		}
	}
	ts, ok := aws["Timestamp"].(json.Number)
	if !ok {
		return Doc{}, errors.New("_aws.Timestamp: missing or not a number")
	}
	n, err := ts.Int64()
	if err != nil || n < 0 {
		return Doc{}, fmt.Errorf("_aws.Timestamp %s: want milliseconds since the epoch", ts)
	}
	doc.Timestamp = n
	directives, ok := aws["CloudWatchMetrics"].([]any)
	if !ok {
		return Doc{}, errors.New("_aws.CloudWatchMetrics: missing or not an array")
	}
	for i, raw := range directives {
		d, err := validateDirective(raw, doc)
		if err != nil {
			return Doc{}, fmt.Errorf("_aws.CloudWatchMetrics[%d]: %w", i, err)
		}
		doc.Directives = append(doc.Directives, d)
	}
	return doc, nil
}

func validateDirective(raw any, doc Doc) (Directive, error) {
	obj, ok := raw.(map[string]any)
	if !ok {
		return Directive{}, errors.New("not an object")
	}
	var d Directive
	d.Namespace, ok = obj["Namespace"].(string)
	if !ok || d.Namespace == "" || len(d.Namespace) > maxNameLength {
		return Directive{}, errors.New("the Namespace member: want a string of 1 to 255 characters")
	}
	sets, ok := obj["Dimensions"].([]any)
	if !ok || len(sets) == 0 {
		return Directive{}, errors.New("the Dimensions member: want an array of at least one dimension set")
	}
	for _, s := range sets {
		keys, ok := s.([]any)
		if !ok || len(keys) > maxDimensionKeys {
			return Directive{}, fmt.Errorf("dimension set %v: want an array of at most %d keys", s, maxDimensionKeys)
		}
		var set []string
		for _, k := range keys {
			key, ok := k.(string)
			if !ok || key == "" || len(key) > maxNameLength {
				return Directive{}, fmt.Errorf("dimension key %v: want a string of 1 to 255 characters", k)
			}
			if _, ok := doc.Root[key].(string); !ok {
				return Directive{}, fmt.Errorf("dimension %q: the root has no string member of that name", key)
			}
			set = append(set, key)
		}
		d.Dimensions = append(d.Dimensions, set)
	}
	defs, ok := obj["Metrics"].([]any)
	if !ok || len(defs) == 0 || len(defs) > maxMetrics {
		return Directive{}, fmt.Errorf("the Metrics member: want an array of 1 to %d definitions", maxMetrics)
	}
	for _, raw := range defs {
		def, ok := raw.(map[string]any)
		if !ok {
			return Directive{}, errors.New("metric definition: not an object")
		}
		name, ok := def["Name"].(string)
		if !ok || name == "" || len(name) > maxNameLength {
			return Directive{}, errors.New("metric Name: want a string of 1 to 255 characters")
		}
		unit := ""
		if u, present := def["Unit"]; present {
			if unit, ok = u.(string); !ok || !slices.Contains(units, unit) {
				return Directive{}, fmt.Errorf("metric %q: Unit %v is not a CloudWatch unit", name, u)
			}
		}
		v, err := metricValue(doc.Root[name])
		if err != nil {
			return Directive{}, fmt.Errorf("metric %q: %w", name, err)
		}
		if prev, ok := doc.Metrics[name]; ok && prev.Unit != unit {
			return Directive{}, fmt.Errorf("metric %q: units %q and %q", name, prev.Unit, unit)
		}
		doc.Metrics[name] = Metric{Unit: unit, Value: v}
		d.Metrics = append(d.Metrics, name)
	}
	return d, nil
}

// metricValue checks a metric target: a number, or an array of at most 100
// numbers. It returns the number, or the array's first.
func metricValue(v any) (float64, error) {
	switch x := v.(type) {
	case json.Number:
		f, err := x.Float64()
		if err != nil || math.IsInf(f, 0) {
			return 0, fmt.Errorf("value %s is not a finite number", x)
		}
		return f, nil
	case []any:
		if len(x) == 0 || len(x) > maxArrayValues {
			return 0, fmt.Errorf("array of %d values: want 1 to %d", len(x), maxArrayValues)
		}
		var first float64
		for i, e := range x {
			f, err := metricValue(e)
			if _, nested := e.([]any); err != nil || nested {
				return 0, fmt.Errorf("array value %v is not a number", e)
			}
			if i == 0 {
				first = f
			}
		}
		return first, nil
	case nil:
		return 0, errors.New("the root has no member of that name")
	default:
		return 0, fmt.Errorf("value %v is not a number", v)
	}
}

// Lines validates every line of out, which a recorder wrote, and returns
// the documents; an invalid line fails the test.
func Lines(t testing.TB, out string) []Doc {
	t.Helper()
	var docs []Doc
	for l := range strings.SplitSeq(out, "\n") {
		if l == "" {
			continue
		}
		d, err := Validate([]byte(l))
		if err != nil {
			t.Fatalf("EMF line %s: %v", l, err)
		}
		docs = append(docs, d)
	}
	return docs
}

// Values returns the metric values of d by name, for comparison.
func (d Doc) Values() map[string]float64 {
	m := map[string]float64{}
	for k, v := range d.Metrics {
		m[k] = v.Value
	}
	return m
}
