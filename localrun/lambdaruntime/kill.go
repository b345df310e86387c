package lambdaruntime

// KillBusy sends SIGKILL to the process (group) of every instance that is
// running an invocation, that is whose runtime took an event through /next
// and has not answered it, and returns how many it killed. It is a test
// hook: the run's tests kill a worker in the middle of its work, as Lambda
// may lose an execution environment, to check that what the function does
// survives it. The invocations end as crashes (Result.Error of type
// Runtime.ExitError), and their instances are replaced when next needed.
func (p *Pool) KillBusy() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for inst := range p.all {
		inst.mu.Lock()
		busy := inst.current != nil && inst.cmd != nil && inst.cmd.Process != nil && !inst.stopped
		if busy {
			kill(inst.cmd)
			n++
		}
		inst.mu.Unlock()
	}
	return n
}
