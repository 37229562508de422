#pragma once
// How auxgrid writes and checks files on a shared filesystem (docs/reliability.md,
// "On a shared filesystem"), one way for every file it writes: results, checkpoints,
// locks, error records, the manifest, figures, tables, the report, the export
// and job scripts. Nothing is ever opened for writing through a link, and no
// temporary name can be guessed.
#include <cstddef>
#include <string>

namespace auxgrid::files {

// A new, empty file beside `path` named "<path>.tmp.<16 random hex digits>",
// created exclusively and never through a link (O_EXCL | O_NOFOLLOW): a file
// or link planted at a predicted name cannot be written through. Its
// directory is created. Returns the name; with `fd` the open descriptor
// (else it is closed). Throws naming `what`, `path` and the reason.
std::string create_temporary(const std::string& path, const std::string& what, int* fd = nullptr);

// Renames the finished temporary file `tmp` over `path`; a link found at
// `path` is moved aside first (set_aside_link), so the name ends as the file
// written, never as a link. Removes `tmp` and throws on failure.
void commit(const std::string& tmp, const std::string& path, const std::string& what);

// `bytes` to `path`, whole or not at all: a temporary file (create_temporary),
// written, flushed to disk, renamed over `path` (commit). On any failure (a
// full disk, say) `path` keeps its previous contents and the message gives
// the system's reason ("No space left on device").
void write_atomically(const std::string& path, const std::string& bytes, const std::string& what);

// All of `bytes` to `fd`, through short writes; false with errno set when a
// write fails (ENOSPC, EFBIG, EIO ...).
bool write_fully(int fd, const std::string& bytes);

// Opens `path` to append to it (created 0644 if absent), never through a
// link: a link found there is moved aside first. Returns the descriptor.
int open_for_append(const std::string& path, const std::string& what);

// A link at `path`, where auxgrid is about to write, is moved aside to
// "<path>.link.<unix time>" and named in a warning; false when there is none.
bool set_aside_link(const std::string& path, const std::string& what);

// Throws "<what> '<path>' is a named pipe (a regular file is needed)" and the
// like unless `path` is a regular file (or a link to one), before anything
// opens it: a pipe or a device would block or never end.
void require_regular_file(const std::string& path, const std::string& what);

// Creates a probe file in `dir` (in its nearest existing ancestor when it is
// not made yet) and removes it: throws "<what> '<dir>' cannot be written:
// <reason>" when that fails, e.g. a read-only directory or a file in its place.
void probe_directory(const std::string& dir, const std::string& what);

// `text` as a message may echo it: whole up to `limit` characters, else its
// first `limit` and "... (N bytes in all)".
std::string shortened(const std::string& text, std::size_t limit = 120);

}  // namespace auxgrid::files
