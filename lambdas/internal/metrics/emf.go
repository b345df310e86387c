package metrics

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// Limits of the specification (see the package doc).
const (
	MaxMetricsPerDirective = 100
	MaxDimensionSetKeys    = 30
	maxNameLength          = 255
)

// Unit is a CloudWatch metric unit.
type Unit string

// The units CloudWatch accepts (MetricDatum's Unit, and the specification's
// schema).
const (
	Seconds         Unit = "Seconds"
	Microseconds    Unit = "Microseconds"
	Milliseconds    Unit = "Milliseconds"
	Bytes           Unit = "Bytes"
	Kilobytes       Unit = "Kilobytes"
	Megabytes       Unit = "Megabytes"
	Gigabytes       Unit = "Gigabytes"
	Terabytes       Unit = "Terabytes"
	Bits            Unit = "Bits"
	Kilobits        Unit = "Kilobits"
	Megabits        Unit = "Megabits"
	Gigabits        Unit = "Gigabits"
	Terabits        Unit = "Terabits"
	Percent         Unit = "Percent"
	Count           Unit = "Count"
	BytesSecond     Unit = "Bytes/Second"
	KilobytesSecond Unit = "Kilobytes/Second"
	MegabytesSecond Unit = "Megabytes/Second"
	GigabytesSecond Unit = "Gigabytes/Second"
	TerabytesSecond Unit = "Terabytes/Second"
	BitsSecond      Unit = "Bits/Second"
	KilobitsSecond  Unit = "Kilobits/Second"
	MegabitsSecond  Unit = "Megabits/Second"
	GigabitsSecond  Unit = "Gigabits/Second"
	TerabitsSecond  Unit = "Terabits/Second"
	CountSecond     Unit = "Count/Second"
	None            Unit = "None"
)

// Units lists every valid Unit.
var Units = []Unit{
	Seconds, Microseconds, Milliseconds, Bytes, Kilobytes, Megabytes, Gigabytes, Terabytes,
	Bits, Kilobits, Megabits, Gigabits, Terabits, Percent, Count,
	BytesSecond, KilobytesSecond, MegabytesSecond, GigabytesSecond, TerabytesSecond,
	BitsSecond, KilobitsSecond, MegabitsSecond, GigabitsSecond, TerabitsSecond, CountSecond, None,
}

// Definition is a MetricDefinition: a metric's name (a root member) and unit
// ("" leaves it out, which CloudWatch reads as None).
type Definition struct {
	Name string
	Unit Unit
}

// Directive is a MetricDirective: which root members are metrics, in which
// namespace, by which dimension sets.
type Directive struct {
	Namespace  string
	Dimensions [][]string
	Metrics    []Definition
}

// Field is a root member with a string value: a dimension's value, or a
// property that is not a dimension.
type Field struct {
	Name, Value string
}

// Value is a root member with a numeric value: a metric's value.
type Value struct {
	Name  string
	Value float64
}

// Record is one EMF document. Fields and Values are written in order after
// "_aws".
type Record struct {
	Timestamp  time.Time
	Directives []Directive
	Fields     []Field
	Values     []Value
}

// Encode returns r as one line of JSON, newline included, or an error when r
// breaks a rule of the specification: a directive with no namespace or
// metric, over 100 metrics or over 30 keys in a dimension set, a unit
// CloudWatch does not know, a dimension key or metric name with no root
// member of the right type, a name used twice, a value that is not finite.
func Encode(r Record) ([]byte, error) {
	if err := r.validate(); err != nil {
		return nil, fmt.Errorf("emf record: %w", err)
	}
	type definition struct {
		Name string `json:"Name"`
		Unit Unit   `json:"Unit,omitempty"`
	}
	type directive struct {
		Namespace  string       `json:"Namespace"`
		Dimensions [][]string   `json:"Dimensions"`
		Metrics    []definition `json:"Metrics"`
	}
	meta := struct {
		Timestamp         int64       `json:"Timestamp"`
		CloudWatchMetrics []directive `json:"CloudWatchMetrics"`
	}{Timestamp: r.Timestamp.UnixMilli()}
	for _, d := range r.Directives {
		dd := directive{Namespace: d.Namespace}
		for _, set := range d.Dimensions {
			// A nil set is written [], not null.
			dd.Dimensions = append(dd.Dimensions, append([]string{}, set...))
		}
		for _, m := range d.Metrics {
			dd.Metrics = append(dd.Metrics, definition(m))
		}
		meta.CloudWatchMetrics = append(meta.CloudWatchMetrics, dd)
	}

	var buf bytes.Buffer
	buf.WriteString(`{"_aws":`)
	if err := writeJSON(&buf, meta); err != nil {
		return nil, err
	}
	for _, f := range r.Fields {
		if err := writeMember(&buf, f.Name, f.Value); err != nil {
			return nil, err
		}
	}
	for _, v := range r.Values {
		if err := writeMember(&buf, v.Name, v.Value); err != nil {
			return nil, err
		}
	}
	buf.WriteString("}\n")
	return buf.Bytes(), nil
}

func writeMember(buf *bytes.Buffer, name string, v any) error {
	buf.WriteByte(',')
	if err := writeJSON(buf, name); err != nil {
		return err
	}
	buf.WriteByte(':')
	return writeJSON(buf, v)
}

// writeJSON appends v's JSON without HTML escaping and without the
// encoder's trailing newline.
func writeJSON(buf *bytes.Buffer, v any) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("emf record: %w", err)
	}
	buf.Write(bytes.TrimSuffix(b.Bytes(), []byte("\n")))
	return nil
}

func (r Record) validate() error {
	if len(r.Directives) == 0 {
		return errors.New("no metric directive")
	}
	if r.Timestamp.IsZero() {
		return errors.New("no timestamp")
	}
	seen := map[string]string{"_aws": "the metadata member"}
	name := func(kind, n string) error {
		switch {
		case n == "" || len(n) > maxNameLength:
			return fmt.Errorf("%s name %q: want 1 to %d bytes", kind, n, maxNameLength)
		case seen[n] != "":
			return fmt.Errorf("%s %q: the name is taken by %s", kind, n, seen[n])
		}
		seen[n] = kind
		return nil
	}
	fields := map[string]bool{}
	for _, f := range r.Fields {
		if err := name("field", f.Name); err != nil {
			return err
		}
		fields[f.Name] = true
	}
	values := map[string]bool{}
	for _, v := range r.Values {
		if err := name("metric", v.Name); err != nil {
			return err
		}
		if math.IsNaN(v.Value) || math.IsInf(v.Value, 0) {
			return fmt.Errorf("metric %q: value %v is not a JSON number", v.Name, v.Value)
		}
		values[v.Name] = true
	}
	for i, d := range r.Directives {
		if err := d.validate(fields, values); err != nil {
			return fmt.Errorf("directive %d: %w", i, err)
		}
	}
	return nil
}

func (d Directive) validate(fields, values map[string]bool) error {
	if err := ValidNamespace(d.Namespace); err != nil {
		return err
	}
	if len(d.Metrics) == 0 || len(d.Metrics) > MaxMetricsPerDirective {
		return fmt.Errorf("%d metrics: want 1 to %d", len(d.Metrics), MaxMetricsPerDirective)
	}
	if len(d.Dimensions) == 0 {
		// The specification's schema: at least one set, which may be [].
		return errors.New("no dimension set")
	}
	for _, set := range d.Dimensions {
		if len(set) > MaxDimensionSetKeys {
			return fmt.Errorf("dimension set %q: over %d keys", set, MaxDimensionSetKeys)
		}
		for i, k := range set {
			if !fields[k] {
				return fmt.Errorf("dimension %q has no string member", k)
			}
			if slices.Contains(set[:i], k) {
				return fmt.Errorf("dimension set %q names %q twice", set, k)
			}
		}
	}
	var names []string
	for _, m := range d.Metrics {
		if !values[m.Name] {
			return fmt.Errorf("metric %q has no numeric member", m.Name)
		}
		if slices.Contains(names, m.Name) {
			return fmt.Errorf("metric %q defined twice", m.Name)
		}
		names = append(names, m.Name)
		if m.Unit != "" && !slices.Contains(Units, m.Unit) {
			return fmt.Errorf("metric %q: unit %q is not a CloudWatch unit", m.Name, m.Unit)
		}
	}
	return nil
}

// ValidNamespace reports whether CloudWatch accepts ns as a custom
// namespace: 1 to 255 characters from 0-9A-Za-z . - _ / # : and space, at
// least one of them not a space, not starting with ":" nor with "AWS/",
// which is AWS's own (CloudWatch concepts, "Namespaces"; PutMetricData).
func ValidNamespace(ns string) error {
	switch {
	case ns == "" || len(ns) > maxNameLength:
		return fmt.Errorf("namespace %q: want 1 to %d characters", ns, maxNameLength)
	case strings.TrimSpace(ns) == "":
		return fmt.Errorf("namespace %q: want a character that is not a space", ns)
	case strings.HasPrefix(ns, ":"):
		return fmt.Errorf("namespace %q: must not start with a colon", ns)
	case strings.HasPrefix(ns, "AWS/"):
		return fmt.Errorf("namespace %q: AWS/ is reserved for AWS services", ns)
	}
	for _, c := range ns {
		ok := c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || strings.ContainsRune("._-/#: ", c)
		if !ok {
			return fmt.Errorf("namespace %q: %q is not allowed (0-9A-Za-z . - _ / # : and space)", ns, c)
		}
	}
	return nil
}
