// The guest's malloc: a boundary-tag allocator with segregated free lists.
//
// Why not the toolchain's: Zig's wasm32-wasi libc allocator rounds every block up to a power
// of two (big blocks to a power of two of 64 KiB pages) and never splits or merges freed
// blocks, so a 65 MiB buffer occupies 128 MiB and the 128 MiB freed later can only ever be
// reused by another 65..128 MiB request. Linear memory never shrinks, so that waste is the
// run's peak memory. This allocator keeps 8 bytes of overhead per block (on wasm32), splits
// blocks to size, merges neighbours on free, and grows linear memory only by what it lacks.
// Zig's libc exports malloc & co. as weak symbols; the strong definitions below replace them
// for every user (libc, libc++, nlohmann, and C libraries linked later).
//
// Layout: a chunk is [prev_foot][head][payload...]. `head` is the chunk size (a multiple of
// 16) plus two flags: CINUSE (this chunk is allocated) and PINUSE (the chunk before it is).
// `prev_foot` holds the previous chunk's size and is valid only while that chunk is free.
// Payloads are 16-byte aligned. Free chunks keep list links in their payload. The "top"
// chunk is the free space at the end of the heap; it is never in a list.
// Single-threaded, as the guest is.
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "fatal.hpp"

namespace rm_heap {

constexpr std::size_t kAlign = 16;
constexpr std::size_t kWord = sizeof(std::size_t);
constexpr std::size_t kHeader = 2 * kWord;  // prev_foot + head
constexpr std::size_t kMinChunk = (kHeader + 2 * sizeof(void*) + kAlign - 1) & ~(kAlign - 1);
constexpr std::size_t kPinuse = 1;
constexpr std::size_t kCinuse = 2;
constexpr std::size_t kFlags = 7;
constexpr std::size_t kMaxRequest = (std::size_t(1) << (8 * sizeof(std::size_t) - 2));
constexpr std::size_t kPage = 65536;

struct Chunk {
    std::size_t prev_foot;
    std::size_t head;
    Chunk* fd;  // free chunks only
    Chunk* bk;
};

// Bins: sizes below 512 have one bin per 16-byte size; larger sizes four bins per power of two.
constexpr int kSmallLimit = 512;
constexpr int kBins = 32 + 4 * (8 * static_cast<int>(sizeof(std::size_t)) - 9);

struct State {
    Chunk* bins[kBins];
    std::uint32_t map[(kBins + 31) / 32];
    Chunk* top;
    std::size_t top_size;
    char* region_end;  // end of the memory the top chunk can extend to
    bool ready;
};

State g;  // zero-initialised: usable before any constructor runs

inline std::size_t csize(const Chunk* c) { return c->head & ~kFlags; }
inline Chunk* at(void* p, std::size_t offset) { return reinterpret_cast<Chunk*>(static_cast<char*>(p) + offset); }
inline Chunk* next_of(Chunk* c) { return at(c, csize(c)); }
inline void* payload(Chunk* c) { return reinterpret_cast<char*>(c) + kHeader; }
inline Chunk* chunk_of(void* p) { return reinterpret_cast<Chunk*>(static_cast<char*>(p) - kHeader); }

inline int bin_index(std::size_t size) {
    if (size < static_cast<std::size_t>(kSmallLimit)) return static_cast<int>(size >> 4);
    int k = 8 * static_cast<int>(sizeof(std::size_t)) - 1 - __builtin_clzl(static_cast<unsigned long>(size));
    int sub = static_cast<int>((size >> (k - 2)) & 3);
    return 32 + (k - 9) * 4 + sub;
}

inline void mark(int i) { g.map[i >> 5] |= 1u << (i & 31); }
inline void unmark(int i) { g.map[i >> 5] &= ~(1u << (i & 31)); }

void insert(Chunk* c) {
    int i = bin_index(csize(c));
    c->bk = nullptr;
    c->fd = g.bins[i];
    if (c->fd) c->fd->bk = c;
    g.bins[i] = c;
    mark(i);
}

void unlink(Chunk* c) {
    int i = bin_index(csize(c));
    if (c->bk)
        c->bk->fd = c->fd;
    else
        g.bins[i] = c->fd;
    if (c->fd) c->fd->bk = c->bk;
    if (!g.bins[i]) unmark(i);
}

// First non-empty bin at or after i, or -1.
int next_bin(int i) {
    while (i < kBins) {
        std::uint32_t bits = g.map[i >> 5] & (~0u << (i & 31));
        if (bits) return (i & ~31) + __builtin_ctz(bits);
        i = (i & ~31) + 32;
    }
    return -1;
}

inline std::size_t request_size(std::size_t n) {
    std::size_t s = (n + kHeader + kAlign - 1) & ~(kAlign - 1);
    return s < kMinChunk ? kMinChunk : s;
}

// ---- Getting memory -------------------------------------------------------------------------

std::size_t g_failed_bytes = 0;  // see rm::failed_allocation_bytes()

#if defined(__wasm__)
extern "C" char __heap_base;
char* grow_memory(std::size_t bytes, std::size_t& got) {
    std::size_t pages = (bytes + kPage - 1) / kPage;
    std::size_t old = __builtin_wasm_memory_grow(0, pages);
    if (old == static_cast<std::size_t>(-1)) {
        g_failed_bytes = bytes;
        return nullptr;
    }
    got = pages * kPage;
    return reinterpret_cast<char*>(old * kPage);
}
void initial_region(char*& begin, char*& end) {
    begin = &__heap_base;
    end = reinterpret_cast<char*>(__builtin_wasm_memory_size(0) * kPage);
}
#else
// Native builds (tests): a fixed arena stands in for linear memory.
char* arena_begin = nullptr;
char* arena_end = nullptr;
char* arena_brk = nullptr;
char* grow_memory(std::size_t bytes, std::size_t& got) {
    std::size_t pages = (bytes + kPage - 1) / kPage;
    if (static_cast<std::size_t>(arena_end - arena_brk) < pages * kPage) return nullptr;
    char* p = arena_brk;
    arena_brk += pages * kPage;
    got = pages * kPage;
    return p;
}
void initial_region(char*& begin, char*& end) {
    begin = arena_brk;
    end = arena_brk;
}
#endif

// Makes [begin, end) the top chunk; the old top, if any, becomes a free chunk closed by a
// fence (a permanently allocated chunk), so nothing ever looks past its end.
void adopt_region(char* begin, char* end) {
    std::uintptr_t first = (reinterpret_cast<std::uintptr_t>(begin) + kHeader + kAlign - 1) & ~(kAlign - 1);
    char* c = reinterpret_cast<char*>(first - kHeader);
    std::size_t size = end > c ? static_cast<std::size_t>(end - c) & ~(kAlign - 1) : 0;
    if (size < 2 * kMinChunk) return;  // too small to bother
    if (g.top) {
        Chunk* old = g.top;
        std::size_t usable = (g.top_size - kMinChunk) & ~(kAlign - 1);
        std::size_t pin = old->head & kPinuse;
        if (g.top_size >= 2 * kMinChunk) {
            old->head = usable | pin;
            Chunk* fence = at(old, usable);
            fence->prev_foot = usable;
            fence->head = (g.top_size - usable) | kCinuse;
            insert(old);
        } else {
            old->head = g.top_size | kCinuse | pin;  // too small: becomes the fence itself
        }
    }
    g.top = reinterpret_cast<Chunk*>(c);
    g.top_size = size - kMinChunk;  // keep room for a fence should the top ever be retired
    g.top->head = g.top_size | kPinuse;
    g.region_end = end;
}

// Makes the top chunk at least `need` bytes (plus room for its own header).
bool grow_top(std::size_t need) {
    for (int attempt = 0; attempt < 2; ++attempt) {  // a second try if the memory was not contiguous
        std::size_t want = need + 2 * kMinChunk;
        std::size_t have = g.top ? g.top_size : 0;
        if (have >= need + kMinChunk) return true;
        std::size_t got = 0;
        char* mem = grow_memory(want - have, got);
        if (!mem) return false;
        if (g.top && mem == g.region_end) {
            g.top_size += got;
            g.top->head = g.top_size | (g.top->head & kPinuse);
            g.region_end += got;
        } else {
            adopt_region(mem, mem + got);
        }
    }
    return g.top && g.top_size >= need + kMinChunk;
}

void init() {
    g.ready = true;
    char* begin;
    char* end;
    initial_region(begin, end);
    if (end > begin) adopt_region(begin, end);
}

// ---- Allocation -----------------------------------------------------------------------------

inline void set_inuse(Chunk* c, std::size_t size) {
    c->head = size | kCinuse | (c->head & kPinuse);
    next_of(c)->head |= kPinuse;
}

// Gives the tail of an allocated chunk beyond `size` back to the heap.
void free_chunk(Chunk* c);
void trim(Chunk* c, std::size_t size) {
    std::size_t cs = csize(c);
    if (cs - size < kMinChunk) return;
    Chunk* rest = at(c, size);
    c->head = size | kCinuse | (c->head & kPinuse);
    rest->head = (cs - size) | kCinuse | kPinuse;
    free_chunk(rest);
}

Chunk* from_bins(std::size_t size) {
    int i = bin_index(size);
    if (i >= 32 && g.bins[i]) {  // a range bin: its chunks may be smaller than asked
        Chunk* best = nullptr;
        int looked = 0;
        for (Chunk* c = g.bins[i]; c && looked < 64; c = c->fd, ++looked) {
            if (csize(c) >= size && (!best || csize(c) < csize(best))) best = c;
        }
        if (best) {
            unlink(best);
            return best;
        }
        ++i;
    }
    int j = next_bin(i);
    if (j < 0) return nullptr;
    Chunk* c = g.bins[j];
    unlink(c);
    return c;
}

void* allocate(std::size_t n) {
    if (!g.ready) init();
    if (n >= kMaxRequest) {
        errno = ENOMEM;
        return nullptr;
    }
    const std::size_t size = request_size(n);
    if (Chunk* c = from_bins(size)) {
        set_inuse(c, csize(c));
        trim(c, size);
        return payload(c);
    }
    if ((!g.top || g.top_size < size + kMinChunk) && !grow_top(size)) {
        errno = ENOMEM;
        return nullptr;
    }
    Chunk* c = g.top;
    std::size_t pin = c->head & kPinuse;
    g.top = at(c, size);
    g.top_size -= size;
    g.top->head = g.top_size | kPinuse;
    c->head = size | kCinuse | pin;
    return payload(c);
}

void free_chunk(Chunk* c) {
    std::size_t size = csize(c);
    if (!(c->head & kPinuse)) {  // merge with the free chunk before
        Chunk* prev = reinterpret_cast<Chunk*>(reinterpret_cast<char*>(c) - c->prev_foot);
        unlink(prev);
        size += csize(prev);
        c = prev;
    }
    Chunk* next = at(c, size);
    if (next == g.top) {  // merge into the top chunk
        g.top = c;
        g.top_size += size;
        c->head = g.top_size | kPinuse;
        return;
    }
    if (!(next->head & kCinuse)) {  // merge with the free chunk after
        unlink(next);
        size += csize(next);
        next = at(c, size);
    }
    c->head = size | kPinuse;
    next->prev_foot = size;
    next->head &= ~kPinuse;
    insert(c);
}

void release(void* p) {
    if (p) free_chunk(chunk_of(p));
}

void* reallocate(void* p, std::size_t n) {
    if (!p) return allocate(n);
    if (n >= kMaxRequest) {
        errno = ENOMEM;
        return nullptr;
    }
    Chunk* c = chunk_of(p);
    const std::size_t cs = csize(c);
    const std::size_t size = request_size(n);
    if (cs >= size) {
        trim(c, size);
        return p;
    }
    Chunk* next = at(c, cs);
    if (next == g.top) {
        if (g.top_size < size - cs + kMinChunk) grow_top(size - cs);
        if (at(c, cs) == g.top && g.top_size >= size - cs + kMinChunk) {
            std::size_t total = cs + g.top_size;
            c->head = size | kCinuse | (c->head & kPinuse);
            g.top = at(c, size);
            g.top_size = total - size;
            g.top->head = g.top_size | kPinuse;
            return p;
        }
    } else if (!(next->head & kCinuse) && cs + csize(next) >= size) {
        unlink(next);
        set_inuse(c, cs + csize(next));
        trim(c, size);
        return p;
    }
    void* q = allocate(n);
    if (!q) return nullptr;
    std::memcpy(q, p, cs - kHeader);
    release(p);
    return q;
}

void* allocate_aligned(std::size_t alignment, std::size_t n) {
    if (alignment <= kAlign) return allocate(n);
    if (n >= kMaxRequest || alignment >= kMaxRequest) {
        errno = ENOMEM;
        return nullptr;
    }
    char* m = static_cast<char*>(allocate(n + 2 * alignment + kMinChunk));
    if (!m) return nullptr;
    Chunk* c = chunk_of(m);
    std::uintptr_t a = (reinterpret_cast<std::uintptr_t>(m) + alignment - 1) & ~(alignment - 1);
    if (a != reinterpret_cast<std::uintptr_t>(m)) {
        if (a - reinterpret_cast<std::uintptr_t>(m) < kMinChunk) a += alignment;
        Chunk* aligned = chunk_of(reinterpret_cast<void*>(a));
        std::size_t lead = static_cast<std::size_t>(reinterpret_cast<char*>(aligned) - reinterpret_cast<char*>(c));
        std::size_t total = csize(c);
        aligned->head = (total - lead) | kCinuse | kPinuse;
        c->head = lead | kCinuse | (c->head & kPinuse);
        free_chunk(c);  // the lead piece; clears `aligned`'s PINUSE and sets its prev_foot
        c = aligned;
    }
    trim(c, request_size(n));
    return payload(c);
}

std::size_t usable_size(void* p) { return p ? csize(chunk_of(p)) - kHeader : 0; }

}  // namespace rm_heap

namespace rm {
std::size_t failed_allocation_bytes() noexcept { return rm_heap::g_failed_bytes; }
void clear_failed_allocation() noexcept { rm_heap::g_failed_bytes = 0; }
}  // namespace rm

#if defined(__wasm__)
extern "C" {

void* malloc(std::size_t n) { return rm_heap::allocate(n); }

void free(void* p) { rm_heap::release(p); }

void* calloc(std::size_t count, std::size_t size) {
    std::size_t n;
    if (__builtin_mul_overflow(count, size, &n)) {
        errno = ENOMEM;
        return nullptr;
    }
    void* p = rm_heap::allocate(n);
    if (p) std::memset(p, 0, n);
    return p;
}

void* realloc(void* p, std::size_t n) {
    if (p && n == 0) {
        rm_heap::release(p);
        return nullptr;
    }
    return rm_heap::reallocate(p, n);
}

void* reallocarray(void* p, std::size_t count, std::size_t size) {
    std::size_t n;
    if (__builtin_mul_overflow(count, size, &n)) {
        errno = ENOMEM;
        return nullptr;
    }
    return realloc(p, n);
}

void* aligned_alloc(std::size_t alignment, std::size_t n) {
    if (alignment == 0 || (alignment & (alignment - 1))) {
        errno = EINVAL;
        return nullptr;
    }
    return rm_heap::allocate_aligned(alignment, n);
}

void* memalign(std::size_t alignment, std::size_t n) { return aligned_alloc(alignment, n); }

int posix_memalign(void** out, std::size_t alignment, std::size_t n) {
    if (alignment < sizeof(void*) || (alignment & (alignment - 1))) return EINVAL;
    void* p = rm_heap::allocate_aligned(alignment, n);
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}

void* valloc(std::size_t n) { return rm_heap::allocate_aligned(rm_heap::kPage, n); }

std::size_t malloc_usable_size(void* p) { return rm_heap::usable_size(p); }

}  // extern "C"
#endif
