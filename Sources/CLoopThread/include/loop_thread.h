// What the server's loop threads need from the OS that Swift's Glibc module does not declare (GNU extensions):
// pinning a thread to a CPU and naming it. Nothing else belongs in this target.
#ifndef CLOOPTHREAD_H
#define CLOOPTHREAD_H

/// Writes the CPUs the calling thread may run on, ascending, into `cpus` (at most `capacity` of them); returns how
/// many it wrote, or -1 when the set cannot be read.
int loop_thread_allowed_cpus(int *cpus, int capacity);

/// Restricts the calling thread to `cpu`. Returns 0, or -1 with errno set.
int loop_thread_pin(int cpu);

/// Names the calling thread (at most 15 bytes are kept), as `top -H`, `perf` and /proc show it.
void loop_thread_name(const char *name);

#endif
