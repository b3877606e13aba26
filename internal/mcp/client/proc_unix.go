//go:build unix

package client

import (
	"os/exec"
	"syscall"
)

// setProcessGroup starts the server in its own process group, so stopping
// it also stops what it started (npx starts node).
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// killGroup ends what is left of the server's process group.
func killGroup(cmd *exec.Cmd) {
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
