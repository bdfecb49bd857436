// Errors are values. A function that can fail returns Result<T> (or
// Result<void>); TRY(expr) returns early with the error, like SerenityOS's TRY.
#pragma once

#include <utility>

enum class Error {
  NoMemory,   // no free frame (or no free entry in a kernel table)
  BadAddress, // address outside every region, above MAXVA, or in the kernel
  Protection, // access not allowed by the region or PTE (store to text, ...)
  Invalid,    // malformed argument (corrupt ELF, ...)
  NotFound,   // missing file
  Exists,     // the name is taken (link, create)
  TooBig,     // argument or image too large
  BeyondEnd,  // a mapped file page at or past the end of the file (Linux: SIGBUS)
  Busy,       // in use: a running program's file opened for writing (ETXTBSY)
  NoSpace,    // the disk is full
  IO,         // a device reported an error
  Killed,     // the process was killed part way (it exits on its way out)
};

const char *error_name(Error e);

template <typename T> class [[nodiscard]] Result {
public:
  Result(T value) : ok_(true), value_(std::move(value)) {}
  Result(Error e) : ok_(false), error_(e) {}

  bool ok() const { return ok_; }
  bool is_error() const { return !ok_; }
  Error error() const { return error_; }
  T &value() { return value_; }
  const T &value() const { return value_; }
  T release_value() { return std::move(value_); }

private:
  bool ok_;
  T value_{};
  Error error_{};
};

template <> class [[nodiscard]] Result<void> {
public:
  Result() : ok_(true) {}
  Result(Error e) : ok_(false), error_(e) {}

  bool ok() const { return ok_; }
  bool is_error() const { return !ok_; }
  Error error() const { return error_; }
  void release_value() {}

private:
  bool ok_;
  Error error_{};
};

// Evaluate a Result; on error return it from the enclosing function,
// otherwise yield the value. (GNU statement expression, as in SerenityOS.)
#define TRY(expr)                                                                                            \
  ({                                                                                                         \
    auto _try_result = (expr);                                                                               \
    if (_try_result.is_error()) return _try_result.error();                                                  \
    _try_result.release_value();                                                                             \
  })
