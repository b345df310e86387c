//go:build unix

package lambdaruntime

import (
	"os/exec"
	"syscall"
)

// setProcessGroup puts the function in a process group of its own, so that
// stopping it also stops whatever it started.
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// signalStop sends SIGTERM to the group and reports whether it was sent.
func signalStop(cmd *exec.Cmd) bool {
	return signalGroup(cmd, syscall.SIGTERM) == nil
}

// kill sends SIGKILL to the group.
func kill(cmd *exec.Cmd) {
	_ = signalGroup(cmd, syscall.SIGKILL)
}

func signalGroup(cmd *exec.Cmd, sig syscall.Signal) error {
	if err := syscall.Kill(-cmd.Process.Pid, sig); err != nil {
		// The group is gone; the process itself may not be reaped yet.
		return cmd.Process.Signal(sig)
	}
	return nil
}
