package websocketapi

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// modulePath is this module's path, as its go.mod declares it.
const modulePath = "wsapi"

// defaultModuleDir finds the wsapi module's directory, which holds the
// built-in functions' sources. An app that imports the construct runs in
// its own module, so "." is not it: the directory of this source file is,
// whenever the build kept absolute file names (go run, go build without
// -trimpath), be it a checkout, a replace directive's target or the module
// cache. Otherwise the go command resolves it from the working directory.
func defaultModuleDir() (string, error) {
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		if dir := filepath.Dir(filepath.Dir(file)); declaresModule(dir) {
			return dir, nil
		}
	}
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", modulePath).Output()
	dir := strings.TrimSpace(string(out))
	if err != nil || dir == "" || !declaresModule(dir) {
		return "", fmt.Errorf("cannot find the %s module's directory (go list -m %s: %v); set ModuleDir", modulePath, modulePath, err)
	}
	return dir, nil
}

// declaresModule reports whether dir/go.mod declares modulePath.
func declaresModule(dir string) bool {
	f, err := os.Open(filepath.Join(dir, "go.mod"))
	if err != nil {
		return false
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(s.Text()), "module "); ok {
			return strings.Trim(strings.TrimSpace(rest), `"`) == modulePath
		}
	}
	return false
}
