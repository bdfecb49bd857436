#include "lib/result.h"

const char *error_name(Error e) {
  switch (e) {
  case Error::NoMemory: return "out of memory";
  case Error::BadAddress: return "bad address";
  case Error::Protection: return "protection violation";
  case Error::Invalid: return "invalid argument";
  case Error::NotFound: return "not found";
  case Error::Exists: return "already exists";
  case Error::TooBig: return "too big";
  case Error::BeyondEnd: return "access beyond the end of a mapped file";
  case Error::Busy: return "file busy";
  case Error::NoSpace: return "no space on disk";
  case Error::IO: return "I/O error";
  case Error::Killed: return "killed";
  }
  return "unknown error";
}
