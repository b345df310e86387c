package contract_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"wsapi/contract"
)

// TestSpelledOnce fails when non-test Go code outside this package spells a
// contract string as a literal instead of importing the constant. Struct
// tags are exempt (Go cannot name a constant there). Log field names and
// API Gateway $context variables such as "connectionId" are not checked:
// they are not the contract, and share its spelling only by convention.
func TestSpelledOnce(t *testing.T) {
	guarded := map[string]bool{}
	for _, s := range []string{
		contract.RouteConnect, contract.RouteDisconnect, contract.RouteSendMessage, contract.RouteDefault,
		contract.AttrExpiresAt, contract.IndexByPrincipal,
		contract.EnvIssuerURL, contract.EnvAudience, contract.EnvJWKSURL, contract.EnvIdentitySource,
		contract.EnvAllowedTokenUse, contract.EnvTableName, contract.EnvConnectionTTL,
		contract.EnvPrincipalIndexName, contract.EnvConnectionsEndpoint, contract.EnvMaxMessageBytes,
		contract.EnvMaxInFlight, contract.MetadataAuthorizer, contract.EnvMetricsNamespace,
		// Not guarded: DimensionFunction ("Function" is a common word in
		// construct ids), and MetricPostFailed and MetricAuthRefused,
		// whose spelling the alarm settings' kinds share by design.
		contract.DimensionReason,
		contract.MetricDelivered, contract.MetricStale, contract.MetricRecipients,
		contract.MetricFanOutDuration, contract.MetricFrameBytes, contract.MetricAuthAccepted,
		contract.MetricConnected, contract.MetricConnectFailed, contract.MetricDisconnected, contract.MetricDisconnectFailed,
	} {
		guarded[s] = true
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if path != root && (strings.HasPrefix(name, ".") || name == "node_modules" || name == "cdk.out" || name == "testdata" || name == "contract") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		tags := map[*ast.BasicLit]bool{}
		ast.Inspect(f, func(n ast.Node) bool {
			if fl, ok := n.(*ast.Field); ok && fl.Tag != nil {
				tags[fl.Tag] = true
			}
			return true
		})
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING || tags[lit] {
				return true
			}
			if v, err := strconv.Unquote(lit.Value); err == nil && guarded[v] {
				t.Errorf("%s: %q is spelled here; use the wsapi/contract constant", fset.Position(lit.Pos()), v)
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
