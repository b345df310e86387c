//go:build !unix

package lambdaruntime

import "os/exec"

// setProcessGroup does nothing where there are no Unix process groups.
func setProcessGroup(*exec.Cmd) {}

// signalStop reports that no polite stop exists here: the caller kills.
func signalStop(*exec.Cmd) bool { return false }

func kill(cmd *exec.Cmd) { _ = cmd.Process.Kill() }
