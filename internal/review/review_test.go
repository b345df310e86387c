package review

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"wsapi/internal/cfnlint"
)

func readNagFixture(t *testing.T, name string) []NagRow {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "nag", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := parseNagCSV(f, name)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// TestCompareNag: unsuppressed findings come from the annotations, the
// suppressed ones (with reasons) from the CSV report; each side is compared.
func TestCompareNag(t *testing.T) {
	base := &Stack{
		NagRows: readNagFixture(t, "base.csv"),
		Annotations: []Annotation{
			{Level: "warning", Path: "/WebSocketApi/Default/Stage/Resource", Data: "AwsSolutions-APIG1: The API does not have access logging enabled."},
		},
	}
	head := &Stack{
		NagRows: readNagFixture(t, "head.csv"),
		Annotations: []Annotation{
			{Level: "warning", Path: "/WebSocketApi/Default/Connections/Resource", Data: "AwsSolutions-DDB3: The DynamoDB table does not have Point-in-time Recovery enabled."},
			{Level: "error", Path: "/WebSocketApi/Default/DisconnectRoute", Data: "AwsSolutions-APIG4: The API does not implement authorization."},
			{Level: "error", Path: "/WebSocketApi/Default/X", Data: "not a nag finding"},
			{Level: "info", Path: "/WebSocketApi/Default/X", Data: "AwsSolutions-Info: informational"},
		},
	}
	c := compareNag(base, head)
	rules := func(fs []NagFinding) []string {
		var out []string
		for _, f := range fs {
			out = append(out, f.Level+" "+f.Rule+" "+f.Path)
		}
		return out
	}
	for _, tc := range []struct {
		name      string
		got, want []string
	}{
		{"new", rules(c.New), []string{
			"warning AwsSolutions-DDB3 WebSocketApi/Default/Connections/Resource",
			"error AwsSolutions-APIG4 WebSocketApi/Default/DisconnectRoute",
		}},
		{"resolved", rules(c.Resolved), []string{"warning AwsSolutions-APIG1 WebSocketApi/Default/Stage/Resource"}},
		{"new errors", rules(c.NewErrors()), []string{"error AwsSolutions-APIG4 WebSocketApi/Default/DisconnectRoute"}},
		{"new suppressed", rules(c.NewSuppressed), []string{"error AwsSolutions-IAM5 WebSocketApi/Default/DisconnectRole/DefaultPolicy/Resource"}},
		{"removed suppressed", rules(c.RemovedSuppressed), []string{"error AwsSolutions-APIG4 WebSocketApi/Default/DisconnectRoute"}},
	} {
		slices.Sort(tc.got)
		slices.Sort(tc.want)
		if !slices.Equal(tc.got, tc.want) {
			t.Errorf("%s: %q, want %q", tc.name, tc.got, tc.want)
		}
	}
	if got := c.NewSuppressed[0].Reason; got != "[Action::dynamodb:Get*] Reads of any kind, reviewed." {
		t.Errorf("suppression reason %q", got)
	}
	if c.NoReport {
		t.Error("NoReport with a report")
	}
	if !compareNag(base, &Stack{}).NoReport {
		t.Error("a head without a CSV report is not NoReport")
	}
}

// TestCompareNagMovedConstruct: a resource whose construct moved (a new
// path) under the same logical ID keeps its findings and suppressions;
// nothing is reported new or resolved. This is what wrapping the stack's
// resources in a construct with id Default did.
func TestCompareNagMovedConstruct(t *testing.T) {
	rows := func(path string) []NagRow {
		return []NagRow{{RuleID: "AwsSolutions-APIG4", ResourceID: path, Compliance: "Suppressed", Level: "Error", Reason: "authorized on $connect"}}
	}
	finding := func(path string) []Annotation {
		return []Annotation{{Level: "warning", Path: "/" + path, Data: "AwsSolutions-APIG1: no access logging"}}
	}
	base := &Stack{
		NagRows: rows("WebSocketApi/SendMessageRoute"), Annotations: finding("WebSocketApi/Stage"),
		LogicalPaths: map[string]string{"SendMessageRoute": "/WebSocketApi/SendMessageRoute", "Stage": "/WebSocketApi/Stage"},
	}
	head := &Stack{
		NagRows: rows("WebSocketApi/Default/SendMessageRoute"), Annotations: finding("WebSocketApi/Default/Stage"),
		LogicalPaths: map[string]string{"SendMessageRoute": "/WebSocketApi/Default/SendMessageRoute", "Stage": "/WebSocketApi/Default/Stage"},
	}
	c := compareNag(base, head)
	if len(c.New)+len(c.Resolved)+len(c.NewSuppressed)+len(c.RemovedSuppressed) != 0 {
		t.Errorf("moved construct reported as changes: %+v", c)
	}
	// Without the mapping (no logical IDs), the paths decide.
	base.LogicalPaths, head.LogicalPaths = nil, nil
	if c := compareNag(base, head); len(c.NewSuppressed) != 1 || len(c.New) != 1 {
		t.Errorf("without logical IDs: %+v", c)
	}
}

func function(code string) Resource {
	return Resource{Type: "AWS::Lambda::Function", Properties: map[string]json.RawMessage{"Code": json.RawMessage(code)}}
}

// TestCompareCode: a function is listed when its Code (the asset's key)
// differs, by logical ID; other resources and equal code are not.
func TestCompareCode(t *testing.T) {
	s3 := func(key string) string { return `{"S3Bucket": {"Fn::Sub": "b"}, "S3Key": "` + key + `.zip"}` }
	base := &Stack{
		Template: Template{Resources: map[string]Resource{
			"Same":    function(s3("aaa")),
			"Changed": function(s3("bbb")),
			"Gone":    function(s3("ccc")),
			"Table":   {Type: "AWS::DynamoDB::Table"},
		}},
		LogicalPaths: map[string]string{"Gone": "/WebSocketApi/Default/GoneFunction/Resource"},
	}
	head := &Stack{
		Template: Template{Resources: map[string]Resource{
			"Same":    function(`{"S3Bucket":{"Fn::Sub":"b"},"S3Key":"aaa.zip"}`), // only the spacing differs
			"Changed": function(s3("ddd")),
			"New":     function(`{"ZipFile": "exports.handler = 1"}`),
			"Table":   {Type: "AWS::DynamoDB::Table", Properties: map[string]json.RawMessage{"Code": json.RawMessage(`"x"`)}},
		}},
		LogicalPaths: map[string]string{"Changed": "/WebSocketApi/Default/ChangedFunction/Resource"},
	}
	got := compareCode(base, head)
	want := []CodeChange{
		{LogicalID: "Changed", Path: "Default/ChangedFunction", Kind: "changed", Old: "bbb.zip", New: "ddd.zip"},
		{LogicalID: "Gone", Path: "Default/GoneFunction", Kind: "removed", Old: "ccc.zip"},
		{LogicalID: "New", Kind: "added", New: "inline code"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("code changes\n%+v\nwant\n%+v", got, want)
	}
}

func resourceChange(id, typ, kind, impact string) ResourceChange {
	return ResourceChange{ResourceDiff: ResourceDiff{LogicalID: id, OldType: typ, NewType: typ, Kind: kind, Impact: impact}, Stateful: IsStateful(typ)}
}

// TestBlockersAndExitStatus: replaced or removed stateful resources, new
// unsuppressed cdk-nag errors and cfn-lint errors block; the rest warns.
func TestBlockersAndExitStatus(t *testing.T) {
	lintError := cfnlint.Finding{Level: "Error", Message: "bad"}
	lintError.Rule.ID = "E3001"
	lintWarning := cfnlint.Finding{Level: "Warning", Message: "meh"}
	lintWarning.Rule.ID = "W1001"
	for _, tc := range []struct {
		name     string
		stack    StackReport
		blockers int
		contains []string
	}{
		{"nothing", StackReport{}, 0, []string{"**No blockers.** **No changes**", "No changes.\n"}},
		{"table replaced", StackReport{Resources: []ResourceChange{resourceChange("Table1", "AWS::DynamoDB::Table", "modified", "WILL_REPLACE")}},
			1, []string{"⛔ **BLOCKER (stateful)**", "will be REPLACED", "export the data first"}},
		{"user pool deleted", StackReport{Resources: []ResourceChange{resourceChange("Pool", "AWS::Cognito::UserPool", "removed", "WILL_DESTROY")}},
			1, []string{"will be DELETED", "set its removal policy to RETAIN"}},
		{"log group orphaned", StackReport{Resources: []ResourceChange{resourceChange("Logs", "AWS::Logs::LogGroup", "removed", "WILL_ORPHAN")}},
			1, []string{"will be ORPHANED", "`cdk import`"}},
		{"table may be replaced", StackReport{Resources: []ResourceChange{resourceChange("Table1", "AWS::DynamoDB::Table", "modified", "MAY_REPLACE")}},
			1, []string{"may be REPLACED"}},
		{"stateless replaced", StackReport{Resources: []ResourceChange{resourceChange("Route", "AWS::ApiGatewayV2::Route", "modified", "WILL_REPLACE")}},
			0, []string{"⚠️ **WARNING**", "will be REPLACED"}},
		{"table updated", StackReport{Resources: []ResourceChange{resourceChange("Table1", "AWS::DynamoDB::Table", "modified", "WILL_UPDATE")}},
			0, []string{"| modified | `Table1` | AWS::DynamoDB::Table | WILL_UPDATE |"}},
		{"new nag error", StackReport{Nag: NagChanges{New: []NagFinding{{Rule: "AwsSolutions-IAM5", Path: "S/Default/Role", Level: "error"}}}},
			1, []string{"new unsuppressed cdk-nag error `AwsSolutions-IAM5` on `S/Default/Role`", "suppress it on that resource only"}},
		{"new nag warning", StackReport{Nag: NagChanges{New: []NagFinding{{Rule: "AwsSolutions-DDB3", Path: "S/Default/Table", Level: "warning"}}}},
			0, []string{"New unsuppressed findings", "- warning `AwsSolutions-DDB3` on `S/Default/Table`"}},
		{"cfn-lint error", StackReport{Lint: []cfnlint.Finding{lintError, lintWarning}},
			1, []string{"cfn-lint error Error E3001", "- ⛔ Error E3001", "- Warning W1001"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &Report{Base: "main", Stacks: []StackReport{tc.stack}}
			if got := len(r.Blockers()); got != tc.blockers {
				t.Errorf("%d blockers, want %d: %+v", got, tc.blockers, r.Blockers())
			}
			want := 0
			if tc.blockers > 0 {
				want = 1
			}
			if got := r.ExitCode(); got != want {
				t.Errorf("exit status %d, want %d", got, want)
			}
			md := r.Markdown()
			if !strings.HasPrefix(md, Marker+"\n# Review: the working tree against `main`\n") {
				t.Errorf("report head:\n%s", md)
			}
			for _, s := range tc.contains {
				if !strings.Contains(md, s) {
					t.Errorf("the report lacks %q:\n%s", s, md)
				}
			}
			for _, bl := range r.Blockers() {
				if !strings.Contains(md, bl.Proceed) {
					t.Errorf("the report does not say how to proceed: %q", bl.Proceed)
				}
			}
		})
	}
}

// TestRenamedStatefulResource: a stateful resource removed while one of its
// type is added is read as a rename, and the way out is to keep its ID.
func TestRenamedStatefulResource(t *testing.T) {
	d := &TemplateDiff{Resources: []ResourceDiff{
		{LogicalID: "New1", NewType: "AWS::DynamoDB::Table", Kind: "added", Impact: "WILL_CREATE"},
		{LogicalID: "Old1", OldType: "AWS::DynamoDB::Table", Kind: "removed", Impact: "WILL_ORPHAN"},
		{LogicalID: "Fn", OldType: "AWS::Lambda::Function", NewType: "AWS::Lambda::Function", Kind: "modified", Impact: "WILL_UPDATE"},
	}}
	changes := resourceChanges(d, &Stack{}, &Stack{})
	if changes[0].LogicalID != "Old1" || changes[0].RenamedTo != "New1" || !changes[0].Blocker() {
		t.Fatalf("first change %+v, want the removed table, renamed to New1, as a blocker", changes[0])
	}
	if p := changes[0].proceed(); !strings.Contains(p, "keep the logical ID `Old1`") || !strings.Contains(p, `OverrideLogicalId("Old1")`) {
		t.Errorf("proceed: %s", p)
	}
}

// TestLoadAssemblyOfTheApp reads a real assembly's shape: the stack, its
// template, the logical IDs' paths from the metadata file, the nag CSV
// whose name has the stack's path in it.
func TestLoadAssembly(t *testing.T) {
	a, err := LoadAssembly(filepath.Join("testdata", "assembly"))
	if err != nil {
		t.Fatal(err)
	}
	s := a.Stacks["WebSocketApi"]
	if s == nil || len(a.Stacks) != 1 {
		t.Fatalf("stacks %v, want WebSocketApi only", a.Stacks)
	}
	if s.Template.Resources["Connections827CEF2F"].Type != "AWS::DynamoDB::Table" {
		t.Errorf("template resources %v", s.Template.Resources)
	}
	if got := s.LogicalPaths["Connections827CEF2F"]; got != "/WebSocketApi/Default/Connections/Resource" {
		t.Errorf("path of the table %q", got)
	}
	if len(s.Annotations) != 1 || s.Annotations[0].Level != "error" || !strings.HasPrefix(s.Annotations[0].Data, "AwsSolutions-IAM5[") {
		t.Errorf("annotations %+v, want the IAM5 error", s.Annotations)
	}
	if len(s.NagRows) != 2 || s.NagRows[1].Compliance != "Suppressed" {
		t.Errorf("nag rows %+v", s.NagRows)
	}
	if f := unsuppressedFindings(s); len(f) != 1 || f[0].Rule != "AwsSolutions-IAM5[Action::s3:*]" || f[0].Path != "WebSocketApi/Default/Role/DefaultPolicy/Resource" {
		t.Errorf("unsuppressed findings %+v", f)
	}
}

// TestValidationFailed: an assembly written in full whose validation report
// failed (what an unsuppressed cdk-nag error does to app.Synth) is one to
// report on; a synth that stopped before its manifest is not.
func TestValidationFailed(t *testing.T) {
	write := func(dir, name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	failed := `{"pluginReports":[{"pluginName":"Construct Annotations","conclusion":"failure"}]}`
	for _, tc := range []struct {
		name               string
		manifest, validity string
		want               bool
	}{
		{"failed validation", `{}`, failed, true},
		{"passed validation", `{}`, `{"pluginReports":[]}`, false},
		{"no manifest", "", failed, false},
		{"no report", `{}`, "", false},
	} {
		dir := t.TempDir()
		if tc.manifest != "" {
			write(dir, "manifest.json", tc.manifest)
		}
		if tc.validity != "" {
			write(dir, "validation-report.json", tc.validity)
		}
		if got := validationFailed(dir); got != tc.want {
			t.Errorf("%s: validationFailed %v, want %v", tc.name, got, tc.want)
		}
	}
}
