package distributed

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// helperEnv makes the test binary play a topology that starts one child.
const helperEnv = "TAMKEEN_DISTRIBUTED_CHILD_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "1" {
		// The "topology": start a long-lived child as start does, print
		// its pid, then wait to be killed.
		cmd := exec.Command("sleep", "300")
		cmd.SysProcAttr = childProcAttr()
		if err := cmd.Start(); err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fmt.Println(cmd.Process.Pid)
		select {}
	}
	os.Exit(m.Run())
}

// TestChildrenDieWithTheTopology is the fault a probe found (issue 16):
// killing run-distributed outright left its six children running and
// holding their ports. A child started with childProcAttr ends when the
// process that started it is SIGKILLed.
func TestChildrenDieWithTheTopology(t *testing.T) {
	parent := exec.Command(os.Args[0], "-test.run=^$")
	parent.Env = append(os.Environ(), helperEnv+"=1")
	out, err := parent.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := parent.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("read the child's pid: %v", err)
	}
	pid, err := strconv.Atoi(line[:len(line)-1])
	if err != nil {
		t.Fatalf("helper said %q", line)
	}
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
	if err := syscall.Kill(pid, 0); err != nil {
		t.Fatalf("child %d is not running before the kill: %v", pid, err)
	}
	if err := parent.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = parent.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("child %d still runs 5 s after its parent was SIGKILLed", pid)
		}
		// The child is not ours, so it cannot stay a zombie here: once
		// it exits, init reaps it and kill(pid, 0) fails.
		time.Sleep(20 * time.Millisecond)
	}
}
