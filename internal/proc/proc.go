// Package proc runs the child processes of the benchmarks (Vault, the emulator): output to a log file, SIGTERM from
// the kernel if the harness dies (Linux), a graceful stop, and a readiness wait that shows the log when it fails.
package proc

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/internal/cluster"
)

// Process is a child process whose stdout and stderr go to LogPath.
type Process struct {
	Name    string
	Cmd     *exec.Cmd
	LogPath string
	exited  chan struct{}
	err     error
}

// Start runs bin with args and env, its output written to logPath (appended when appendLog, so that a restarted
// server keeps one log; else truncated). The kernel sends it SIGTERM if the harness dies (Pdeathsig), so nothing
// outlives an interrupted run.
func Start(name, bin string, args, env []string, logPath string, appendLog bool) (*Process, error) {
	mode := os.O_CREATE | os.O_WRONLY | os.O_TRUNC
	if appendLog {
		mode = os.O_CREATE | os.O_WRONLY | os.O_APPEND
	}
	f, err := os.OpenFile(logPath, mode, 0o600)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &Process{Name: name, Cmd: cmd, LogPath: logPath, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.exited)
	}()
	return p, nil
}

// Exited is closed when the process has exited.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// Err is the process's exit status, valid once Exited is closed.
func (p *Process) Err() error { return p.err }

// Pid is the process id.
func (p *Process) Pid() int { return p.Cmd.Process.Pid }

// Stop sends SIGTERM and waits, killing the process after grace. A nil Process is already stopped.
func (p *Process) Stop(grace time.Duration) {
	if p == nil {
		return
	}
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(grace):
		_ = p.Cmd.Process.Kill()
		<-p.exited
	}
}

// WaitFor polls ok every interval until it succeeds, the process exits or timeout passes; the error then names what
// was awaited and shows the log's last lines.
func (p *Process) WaitFor(what string, timeout, interval time.Duration, ok func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := ok()
		if err == nil {
			return nil
		}
		select {
		case <-p.exited:
			return fmt.Errorf("%s exited while waiting for %s (%v); log %s:\n%s", p.Name, what, p.err, p.LogPath, cluster.Tail(p.LogPath, 30))
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: no %s after %s: %v; log %s:\n%s", p.Name, what, timeout, err, p.LogPath, cluster.Tail(p.LogPath, 30))
		}
		time.Sleep(interval)
	}
}
