// Clang thread-safety annotations: let the compiler check which mutex guards what.
//
// A member declared `int n_ GUARDED_BY(mu_);` may only be read or written while mu_ is held; a
// function declared `void F() REQUIRES(mu_);` may only be called with mu_ held. Clang checks
// both at compile time with -Wthread-safety (the sanitizer build, scripts/sanitizer-test.sh,
// turns it into an error); other compilers see empty macros. The analysis is lexical: it knows
// a lock is held from the acquisition to the release in the same function, and nothing more.
// Lambdas are analysed as functions of their own (call mu.AssertHeld() in a lambda that runs
// under the caller's lock), and locks on objects it cannot name (a lock inside a table entry)
// stay unannotated.
//
// The macro names are the ones in clang's documentation (ThreadSafetyAnalysis.html) and in
// leveldb's port/thread_annotations.h, so annotated declarations read the same as there. Each is
// defined only if nothing included before defined it.
//
// Thread-safety, ownership, errors: none; these are declarations only.
#ifndef TIERSWAP_TIERS_THREAD_ANNOTATIONS_H_
#define TIERSWAP_TIERS_THREAD_ANNOTATIONS_H_

#if defined(__clang__)
#define TIERSWAP_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define TIERSWAP_THREAD_ANNOTATION(x)  // gcc has no thread-safety analysis
#endif

// A class that is a lock ("mutex" in messages).
#ifndef CAPABILITY
#define CAPABILITY(x) TIERSWAP_THREAD_ANNOTATION(capability(x))
#endif

// An RAII class that holds a capability for its lifetime (MutexLock).
#ifndef SCOPED_CAPABILITY
#define SCOPED_CAPABILITY TIERSWAP_THREAD_ANNOTATION(scoped_lockable)
#endif

// A member readable and writable only with the capability held.
#ifndef GUARDED_BY
#define GUARDED_BY(x) TIERSWAP_THREAD_ANNOTATION(guarded_by(x))
#endif

// A pointer (or smart pointer) whose pointee is accessible only with the capability held; the
// pointer itself is not guarded.
#ifndef PT_GUARDED_BY
#define PT_GUARDED_BY(x) TIERSWAP_THREAD_ANNOTATION(pt_guarded_by(x))
#endif

// Lock ordering between capabilities (checked only with -Wthread-safety-beta).
#ifndef ACQUIRED_AFTER
#define ACQUIRED_AFTER(...) TIERSWAP_THREAD_ANNOTATION(acquired_after(__VA_ARGS__))
#endif
#ifndef ACQUIRED_BEFORE
#define ACQUIRED_BEFORE(...) TIERSWAP_THREAD_ANNOTATION(acquired_before(__VA_ARGS__))
#endif

// The caller must hold the capabilities (exclusively / shared) when calling.
#ifndef REQUIRES
#define REQUIRES(...) TIERSWAP_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#endif
#ifndef REQUIRES_SHARED
#define REQUIRES_SHARED(...) TIERSWAP_THREAD_ANNOTATION(requires_shared_capability(__VA_ARGS__))
#endif

// The function acquires / releases the capabilities (no argument: `this`).
#ifndef ACQUIRE
#define ACQUIRE(...) TIERSWAP_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#endif
#ifndef ACQUIRE_SHARED
#define ACQUIRE_SHARED(...) TIERSWAP_THREAD_ANNOTATION(acquire_shared_capability(__VA_ARGS__))
#endif
#ifndef RELEASE
#define RELEASE(...) TIERSWAP_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
#endif
#ifndef RELEASE_SHARED
#define RELEASE_SHARED(...) TIERSWAP_THREAD_ANNOTATION(release_shared_capability(__VA_ARGS__))
#endif

// The function acquires the capability only when it returns the given value.
#ifndef TRY_ACQUIRE
#define TRY_ACQUIRE(...) TIERSWAP_THREAD_ANNOTATION(try_acquire_capability(__VA_ARGS__))
#endif

// The caller must NOT hold the capabilities (the function takes them itself; no re-entry).
#ifndef EXCLUDES
#define EXCLUDES(...) TIERSWAP_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
#endif

// After the call the analysis assumes the capability is held (Mutex::AssertHeld).
#ifndef ASSERT_CAPABILITY
#define ASSERT_CAPABILITY(x) TIERSWAP_THREAD_ANNOTATION(assert_capability(x))
#endif

// The function returns a reference to the given capability.
#ifndef RETURN_CAPABILITY
#define RETURN_CAPABILITY(x) TIERSWAP_THREAD_ANNOTATION(lock_returned(x))
#endif

// Turns the analysis off for one function. Each use says in a comment why it is correct.
#ifndef NO_THREAD_SAFETY_ANALYSIS
#define NO_THREAD_SAFETY_ANALYSIS TIERSWAP_THREAD_ANNOTATION(no_thread_safety_analysis)
#endif

#endif  // TIERSWAP_TIERS_THREAD_ANNOTATIONS_H_
