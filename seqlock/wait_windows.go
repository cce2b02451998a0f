package seqlock

// Waking waiters on Windows: a futex made of named manual-reset events, one
// per wake epoch.
//
// The waiter word is the same event count as on Linux (bit 0: a waiter may
// be asleep; bits 1-31: the wake epoch E), and Reader.sleepWait and
// Writer.wakeWaiters are the same code. Only the two futex calls differ:
//
//   - futexSleep(word, key, d), "sleep while *word == key": the waiter
//     opens (or creates) the manual-reset event
//     Local\seqshm-wake.NAME.E for the epoch E = key>>1, then checks
//     that the word still equals key with a compare-and-swap of key for key
//     (a locked read-modify-write, in the total order of every atomic
//     operation on the word), and only then waits on the event, for at most
//     d (maxSleep, 100 ms, growing to maxIdleSleep while a Wait is idle).
//   - wake(word), called by the writer right after its compare-and-swap
//     that cleared bit 0 and moved the epoch from E to E+1: SetEvent on the
//     event of epoch E. The event stays signalled (manual reset, never
//     reset): every waiter of epoch E wakes, whether it is already in
//     WaitForMultipleObjects or gets there later.
//
// Why no wake-up is lost. Take a waiter that read key (epoch E, bit 0 set)
// with its OR and found no new value in the counter after it. The writer's
// commit is a full fence (XCHG: Windows has no membarrier, so writerFlags
// is 0 and every commit is fenced), and the waiter's OR is a locked
// instruction, so either the writer's later load of the word sees bit 0, or
// the waiter's load of the counter sees the commit (docs/memory-model.md,
// "Waking waiters"). In the first case the writer moves the word to epoch
// E+1 with a compare-and-swap and then sets event E. Now look at the
// waiter's compare-and-swap (key, key), which comes after it opened event
// E:
//
//   - if it comes after the writer's compare-and-swap in the word's order, it
//     fails (the word is no longer key) and the waiter does not sleep;
//   - if it comes before, it succeeded, and the writer's compare-and-swap
//     read its result: the waiter's open of event E happened before the
//     writer's SetEvent of E, so the writer signals the very object the
//     waiter holds (a named object lives as long as a handle to it). The
//     event stays set, so the waiter returns from the wait at once whether
//     it started to wait before or after the SetEvent.
//
// Waiters of later epochs use other events, so no waiter can consume or
// reset another's wake-up (the flaw of a counted semaphore or an
// auto-reset event shared by several waiters, where one waiter can take a
// release meant for another, or of PulseEvent, which misses a thread that
// is not waiting at that instant). The bound stays as the safety net for a
// writer that dies between its compare-and-swap and its SetEvent.
//
// Costs. A publish with nobody waiting makes no system call: the writer
// only loads the word and sees bit 0 clear (wakeWaiters). A writer creates
// the events of the next batch (16) epochs ahead and closes old handles in
// batches; a waiting process opens the events of up to batch epochs at a
// time and closes stale ones in batches. So most wakes are one SetEvent
// for the writer and one wait for each waiter, and every batch-th wake
// carries the rest. An idle follower makes one wait a second (maxIdleSleep).
//
// Cancellation. A Reader's cancel hook (context.AfterFunc) calls wake on
// the reader's own word; that must wake the goroutines of this process
// only, never set the shared event. Each sleeping goroutine therefore also
// waits on a private auto-reset event, which wake sets for every sleeper
// of this process.
//
// Permissions. The writer creates the events with a DACL of its user and
// SYSTEM (full access) and SYNCHRONIZE for Everyone (to wait on them). A
// waiter that must create an event itself (no writer yet) gets its own
// default security; a writer of another user cannot then open it, and that
// waiter sleeps out its bound. A waiter that cannot map the waiter area
// writable (no write access to the segment) polls instead (Reader.Wait).

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
)

// haveFutex: Wait sleeps on the wake events instead of polling.
const haveFutex = true

// maxIdleSleep: the bound of a sleep doubles from maxSleep up to this after
// each sleep of one Wait that ended with nothing new. A wait that times out
// is not free everywhere (about 200 µs of CPU under wine, where ten a second
// were 0.2 % of a core, the whole idle cost of a follower); the safety net
// it is for (a writer killed between its compare-and-swap and its
// SetEvent, an event a writer of another user could not open) then costs
// at most a second, and only after a second of silence.
const maxIdleSleep = time.Second

// membarrierRegister: no membarrier on Windows; every commit is fenced.
func membarrierRegister() bool { return false }

func membarrierGlobal() error { return errors.ErrUnsupported }

// batch is how many epochs' events a writer creates at a time, and how
// many stale handles a process collects before it closes them: the work of
// a wake beyond its SetEvent is done once every batch wakes, not on every
// one (it is the same work, but not on most wake-ups' latency path).
const batch = 16

const (
	eventAllAccess   = 0x1F0003 // EVENT_ALL_ACCESS
	eventModifyState = 0x0002   // EVENT_MODIFY_STATE
	epochMask        = 1<<31 - 1
)

// waitObjects are one process's handles for one waiter word.
type waitObjects struct {
	prefix string // Local\seqshm-wake.NAME.
	writer bool

	mu sync.Mutex
	// Writer: the events of the epochs from the current one to top,
	// created ahead (0 where that failed).
	ahead map[uint32]windows.Handle
	top   uint32
	// Both: handles no longer needed, closed in batches of batch.
	stale []windows.Handle
	// Waiter: the events of the epochs opened so far, from the one
	// slept on last (opened a batch at a time, as far as the writer made
	// them ahead), and how many goroutines are between enter and leave.
	evs      map[uint32]windows.Handle
	sleeping int
	// Waiter: the private events of the goroutines asleep now, and a pool
	// of idle ones.
	sleepers []*sleeper
	idle     []windows.Handle
}

type sleeper struct {
	h        windows.Handle
	signaled bool // wake set h
}

var waitRegistry sync.Map // *uint32 -> *waitObjects

// eventSD is the security of the events a writer creates.
var (
	eventSDOnce sync.Once
	eventSD     *windows.SECURITY_DESCRIPTOR
)

func eventSecurity() *windows.SecurityAttributes {
	eventSDOnce.Do(func() {
		tu, err := windows.GetCurrentProcessToken().GetTokenUser()
		if err != nil {
			return
		}
		u := tu.User.Sid.String()
		eventSD, _ = windows.SecurityDescriptorFromString("O:" + u + "D:P(A;;0x1F0003;;;" + u + ")(A;;0x1F0003;;;SY)(A;;0x100000;;;WD)")
	})
	if eventSD == nil {
		return nil
	}
	return &windows.SecurityAttributes{Length: uint32(unsafe.Sizeof(windows.SecurityAttributes{})), SecurityDescriptor: eventSD}
}

// namespace is Local\, or Global\ with SEQSHM_NAMESPACE=Global (as package
// shmfile names the segment's mapping and mutex).
func namespace() string {
	if strings.EqualFold(os.Getenv("SEQSHM_NAMESPACE"), "global") {
		return `Global\`
	}
	return `Local\`
}

func (o *waitObjects) eventName(epoch uint32) *uint16 {
	p, _ := windows.UTF16PtrFromString(o.prefix + strconv.FormatUint(uint64(epoch), 10))
	return p
}

// create creates (or opens) the event of epoch, manual reset, not signalled.
func (o *waitObjects) create(epoch uint32, access uint32, sa *windows.SecurityAttributes) windows.Handle {
	h, err := windows.CreateEventEx(sa, o.eventName(epoch), windows.CREATE_EVENT_MANUAL_RESET, access)
	if err != nil && err != windows.ERROR_ALREADY_EXISTS {
		return 0
	}
	return h
}

// openWaitObjects prepares what a writer (writer true) or a waiter needs
// besides the waiter word to wake or sleep for the segment name; wake and
// futexSleep find it by the word's address. closeWaitObjects releases it.
func openWaitObjects(word *uint32, name string, writer bool) error {
	o := &waitObjects{prefix: namespace() + "seqshm-wake." + name + ".", writer: writer}
	if len(o.prefix) > 32000 {
		return errors.ErrUnsupported
	}
	if writer {
		e := atomic.LoadUint32(word) >> 1
		o.ahead = make(map[uint32]windows.Handle, 2*batch)
		o.top = (e - 1) & epochMask
		o.createAhead(e)
	}
	if old, loaded := waitRegistry.Swap(word, o); loaded {
		old.(*waitObjects).close()
	}
	return nil
}

func closeWaitObjects(word *uint32) {
	if o, ok := waitRegistry.LoadAndDelete(word); ok {
		o.(*waitObjects).close()
	}
}

func (o *waitObjects) close() {
	o.mu.Lock()
	defer o.mu.Unlock()
	for e, h := range o.ahead {
		if h != 0 {
			windows.CloseHandle(h)
		}
		delete(o.ahead, e)
	}
	o.closeStale(0)
	if o.sleeping == 0 {
		for e, h := range o.evs {
			windows.CloseHandle(h)
			delete(o.evs, e)
		}
	}
	for _, h := range o.idle {
		windows.CloseHandle(h)
	}
	o.idle = nil
}

// wake is called by the writer after it moved the word to a new epoch (it
// then wakes the waiters of the epoch before), and by a Reader's cancel
// hook (it then wakes this process's sleepers on the word).
func wake(word *uint32) {
	v, ok := waitRegistry.Load(word)
	if !ok {
		return
	}
	o := v.(*waitObjects)
	if !o.writer {
		o.wakeLocal()
		return
	}
	// Only this writer moves the epoch, and it just did: the word holds
	// epoch E+1 (and perhaps bit 0 again).
	e := atomic.LoadUint32(word) >> 1
	old := (e - 1) & epochMask
	o.mu.Lock()
	defer o.mu.Unlock()
	if h, ok := o.ahead[old]; ok && h != 0 {
		windows.SetEvent(h)
	} else if h, err := windows.OpenEvent(eventModifyState, false, o.eventName(old)); err == nil {
		// Not made ahead (a create that failed, or a word that moved
		// unexpectedly): the waiters made it.
		windows.SetEvent(h)
		o.stale = append(o.stale, h)
	}
	if h, ok := o.ahead[old]; ok {
		delete(o.ahead, old)
		if h != 0 {
			o.stale = append(o.stale, h)
		}
	}
	// Keep events made ahead for E+1 and E+2 at least, so that waiters
	// find them and the next wake is a single SetEvent.
	if (o.top-e)&epochMask < 2 || (o.top-e)&epochMask > 2*batch {
		o.createAhead(e)
		o.closeStale(0)
	}
}

// createAhead creates the events of the epochs from at to at+batch-1 that
// do not exist yet.
func (o *waitObjects) createAhead(at uint32) {
	if (o.top-at)&epochMask > 2*batch {
		// top is behind at (or far ahead: the word moved back): start
		// again from at. The events made so far, if any, are for epochs
		// that are gone or far off.
		for e, h := range o.ahead {
			if h != 0 {
				o.stale = append(o.stale, h)
			}
			delete(o.ahead, e)
		}
		o.top = (at - 1) & epochMask
	}
	// top+1-at, not top-at: top is at-1 when nothing is made yet, where
	// top-at wraps to epochMask and nothing would be made (every wake
	// would then open, set and close the event, and the events would be
	// the waiters', with their default security).
	for (o.top+1-at)&epochMask < batch {
		o.top = (o.top + 1) & epochMask
		o.ahead[o.top] = o.create(o.top, eventAllAccess, eventSecurity())
	}
}

// closeStale closes the stale handles if there are more than keep.
func (o *waitObjects) closeStale(keep int) {
	if len(o.stale) <= keep {
		return
	}
	for _, h := range o.stale {
		windows.CloseHandle(h)
	}
	o.stale = o.stale[:0]
}

// wakeLocal wakes this process's goroutines asleep on the word.
func (o *waitObjects) wakeLocal() {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, s := range o.sleepers {
		s.signaled = true
		windows.SetEvent(s.h)
	}
}

// futexSleep sleeps while *word equals val, at most d nanoseconds, or until
// wakeLocal. See the top of this file for why no wake-up is lost.
func futexSleep(word *uint32, val uint32, d int64) error {
	v, ok := waitRegistry.Load(word)
	if !ok {
		return errors.ErrUnsupported
	}
	o := v.(*waitObjects)
	epoch := val >> 1
	ev, me, err := o.enter(epoch)
	if err != nil {
		return err
	}
	defer o.leave(ev, me)
	// The open of the event above comes before this compare-and-swap; a
	// wake that comes after it in the word's order sets that event.
	if !atomic.CompareAndSwapUint32(word, val, val) {
		return nil
	}
	ms := uint32((d + 999_999) / 1_000_000)
	handles := [2]windows.Handle{me.h, ev}
	n := 2
	if ev == 0 {
		n = 1 // no event to sleep on (see enter): sleep out d
	}
	r, err := windows.WaitForMultipleObjects(handles[:n], false, ms)
	if r == windows.WAIT_FAILED {
		return err
	}
	return nil
}

// enter returns the event of epoch (0 if it can neither be opened nor
// created) and registers a private event for wakeLocal.
func (o *waitObjects) enter(epoch uint32) (windows.Handle, *sleeper, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	me := &sleeper{}
	if n := len(o.idle); n > 0 {
		me.h, o.idle = o.idle[n-1], o.idle[:n-1]
	} else {
		h, err := windows.CreateEvent(nil, 0, 0, nil) // auto reset, private
		if err != nil {
			return 0, nil, err
		}
		me.h = h
	}
	o.sleepers = append(o.sleepers, me)
	o.sleeping++
	if o.evs == nil {
		o.evs = make(map[uint32]windows.Handle, 2*batch)
	}
	h, ok := o.evs[epoch]
	if !ok {
		// The events of earlier epochs are stale now; those of the next
		// ones are opened with this one, as far as the writer made them.
		for e, h := range o.evs {
			if d := (epoch - e) & epochMask; d != 0 && d < 1<<30 {
				o.stale = append(o.stale, h)
				delete(o.evs, e)
			}
		}
		if o.sleeping == 1 {
			o.closeStale(batch) // nobody else can be using them
		}
		var err error
		if h, err = windows.OpenEvent(windows.SYNCHRONIZE, false, o.eventName(epoch)); err != nil {
			// No writer made it: make it, with this user's default
			// security.
			h = o.create(epoch, windows.SYNCHRONIZE, nil)
		}
		if h != 0 {
			o.evs[epoch] = h
			for e := (epoch + 1) & epochMask; e != (epoch+batch)&epochMask; e = (e + 1) & epochMask {
				if _, ok := o.evs[e]; ok {
					continue
				}
				n, err := windows.OpenEvent(windows.SYNCHRONIZE, false, o.eventName(e))
				if err != nil {
					break
				}
				o.evs[e] = n
			}
		}
	}
	return h, me, nil
}

func (o *waitObjects) leave(ev windows.Handle, me *sleeper) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.sleeping--
	for i, s := range o.sleepers {
		if s == me {
			o.sleepers = append(o.sleepers[:i], o.sleepers[i+1:]...)
			break
		}
	}
	if me.signaled {
		windows.ResetEvent(me.h) // if the wait ended for another reason
	}
	o.idle = append(o.idle, me.h)
}
