// RM Studio: malloc for the single-threaded wasm32-wasi guest.
//
// Why: Zig 0.17's libc for wasm32 allocates with std.heap.BrkAllocator, which rounds every
// request up to a power of two -- also the big ones (a 77 MiB weight buffer takes 128 MiB of
// linear memory, a 95 MB compute buffer 128 MiB) -- and reuses a freed block only for a request
// of the same power-of-two class. For whisper.cpp that is hundreds of MiB of linear memory that
// hold nothing, and linear memory is what the host's memory limit counts. Zig exports its
// malloc family as weak symbols, so defining them here replaces it for the whole module.
//
// Design (single-threaded, no locks):
//  - The heap is the linear memory obtained with memory.grow, managed in 64 KiB pages (the wasm
//    page size). Side tables indexed by page number (pagemap, runlen; 320 KiB of zeroed data
//    for the 4 GiB wasm32 address space) describe it, so blocks carry no headers.
//  - Requests above 32 KiB get a run of whole pages, best fit from an address-ordered free
//    list; freed runs coalesce with free neighbours; the heap grows by exactly the missing
//    pages (extending a free run at the top). realloc grows and shrinks runs in place where it
//    can, so a growing std::vector does not leave a trail of freed copies.
//  - Smaller requests use power-of-two classes from 16 B to 32 KiB, each class carving whole
//    pages into naturally aligned blocks with a per-class free list (small blocks are not
//    returned to the page pool).
//  - Alignment: small blocks are aligned to their size, runs to 64 KiB; larger alignments are
//    served by over-allocating a run and giving back the unused pages.
//  - Out of memory (memory.grow fails, e.g. at the host's limit): NULL and errno = ENOMEM.
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define RM_PAGE_SHIFT 16u
#define RM_PAGE ((size_t)1 << RM_PAGE_SHIFT)
#define RM_MAX_PAGES 65536u                 // 4 GiB / 64 KiB
#define RM_MIN_SHIFT 4u                     // 16-byte smallest block
#define RM_SMALL_CLASSES 12u                // 16 B ... 32 KiB
#define RM_SMALL_MAX ((size_t)1 << (RM_MIN_SHIFT + RM_SMALL_CLASSES - 1))

// pagemap values (only meaningful at the first and last page of each run)
enum {
    PM_NONE = 0,                            // not part of the heap
    // 1..RM_SMALL_CLASSES: a page of small blocks of class (value - 1)
    PM_USED = 0x40,                         // first or last page of an allocated run
    PM_FREE = 0x80,                         // first or last page of a free run
};

static uint8_t pagemap[RM_MAX_PAGES];
static uint32_t runlen[RM_MAX_PAGES];       // run length in pages, at first and last page

struct free_run {                           // lives in the first page of a free run
    struct free_run *next;
};
static struct free_run *free_runs;          // address-ordered
static uint32_t heap_lo = UINT32_MAX, heap_hi;   // heap pages are [heap_lo, heap_hi)

struct small_block { struct small_block *next; };
static struct small_block *small_free[RM_SMALL_CLASSES];
static uintptr_t small_bump[RM_SMALL_CLASSES], small_end[RM_SMALL_CLASSES];

static inline uint32_t page_of(const void *p) { return (uint32_t)((uintptr_t)p >> RM_PAGE_SHIFT); }
static inline void *page_addr(uint32_t pg) { return (void *)((uintptr_t)pg << RM_PAGE_SHIFT); }

static void mark(uint32_t first, uint32_t n, uint8_t kind) {
    pagemap[first] = kind;
    runlen[first] = n;
    pagemap[first + n - 1] = kind;
    runlen[first + n - 1] = n;
}

static void list_remove(uint32_t first) {
    struct free_run **pp = &free_runs;
    struct free_run *r = (struct free_run *)page_addr(first);
    while (*pp && *pp != r) pp = &(*pp)->next;
    if (*pp) *pp = r->next;
}

static void list_insert(uint32_t first) {
    struct free_run *r = (struct free_run *)page_addr(first);
    struct free_run **pp = &free_runs;
    while (*pp && (uintptr_t)*pp < (uintptr_t)r) pp = &(*pp)->next;
    r->next = *pp;
    *pp = r;
}

// Give pages [first, first+n) back, merging with free neighbours.
static void release_pages(uint32_t first, uint32_t n) {
    if (first > heap_lo && pagemap[first - 1] == PM_FREE) {
        uint32_t prev_n = runlen[first - 1];
        uint32_t prev = first - prev_n;
        list_remove(prev);
        first = prev;
        n += prev_n;
    }
    uint32_t after = first + n;
    if (after < heap_hi && pagemap[after] == PM_FREE) {
        uint32_t next_n = runlen[after];
        list_remove(after);
        n += next_n;
    }
    mark(first, n, PM_FREE);
    list_insert(first);
}

// Take n pages as a used run; returns the first page or 0 when memory cannot grow.
static uint32_t take_pages(uint32_t n) {
    struct free_run *best = NULL;
    uint32_t best_n = 0;
    for (struct free_run *r = free_runs; r; r = r->next) {
        uint32_t rn = runlen[page_of(r)];
        if (rn >= n && (!best || rn < best_n)) {
            best = r;
            best_n = rn;
            if (rn == n) break;
        }
    }
    uint32_t first;
    if (best) {
        first = page_of(best);
        list_remove(first);
    } else {
        // Grow the heap by what is missing. If the heap's last pages are a free run and
        // nothing else has grown memory since, the new pages extend that run.
        uint32_t top_free = 0;
        if (heap_hi && pagemap[heap_hi - 1] == PM_FREE && (uint32_t)__builtin_wasm_memory_size(0) == heap_hi)
            top_free = runlen[heap_hi - 1];
        uint32_t want = n - top_free;
        intptr_t old = __builtin_wasm_memory_grow(0, want);
        if (old < 0) return 0;
        if (heap_lo == UINT32_MAX) heap_lo = (uint32_t)old;
        if (top_free) {
            first = heap_hi - top_free;
            list_remove(first);
        } else {
            first = (uint32_t)old;
        }
        heap_hi = (uint32_t)old + want;
        best_n = n;
    }
    if (best_n > n) {
        mark(first, n, PM_USED);
        release_pages(first + n, best_n - n);
    } else {
        mark(first, n, PM_USED);
    }
    return first;
}

static inline uint32_t pages_for(size_t size) {
    return (uint32_t)((size + RM_PAGE - 1) >> RM_PAGE_SHIFT);
}

static inline unsigned small_class(size_t size) {
    unsigned c = 0;
    size_t block = (size_t)1 << RM_MIN_SHIFT;
    while (block < size) {
        block <<= 1;
        ++c;
    }
    return c;
}

static void *alloc_small(unsigned c) {
    struct small_block *b = small_free[c];
    if (b) {
        small_free[c] = b->next;
        return b;
    }
    size_t block = (size_t)1 << (RM_MIN_SHIFT + c);
    if (small_bump[c] == small_end[c]) {
        uint32_t pg = take_pages(1);
        if (!pg) return NULL;
        pagemap[pg] = (uint8_t)(c + 1);
        runlen[pg] = 1;
        small_bump[c] = (uintptr_t)page_addr(pg);
        small_end[c] = small_bump[c] + RM_PAGE;
    }
    void *p = (void *)small_bump[c];
    small_bump[c] += block;
    return p;
}

static void *alloc_aligned(size_t size, size_t align) {
    if (size == 0) size = 1;
    if (align < 16) align = 16;
    if (size > (size_t)RM_MAX_PAGES * RM_PAGE - RM_PAGE) {
        errno = ENOMEM;
        return NULL;
    }
    void *p;
    size_t need = size > align ? size : align;
    if (need <= RM_SMALL_MAX) {
        p = alloc_small(small_class(need));
    } else if (align <= RM_PAGE) {
        uint32_t pg = take_pages(pages_for(size));
        p = pg ? page_addr(pg) : NULL;
    } else {
        uint32_t n = pages_for(size), extra = (uint32_t)(align >> RM_PAGE_SHIFT) - 1;
        uint32_t pg = take_pages(n + extra);
        p = NULL;
        if (pg) {
            uint32_t step = (uint32_t)(align >> RM_PAGE_SHIFT);
            uint32_t at = (pg + step - 1) / step * step;
            uint32_t lead = at - pg, trail = extra - lead;
            mark(at, n, PM_USED);
            if (lead) { mark(pg, lead, PM_USED); release_pages(pg, lead); }
            if (trail) { mark(at + n, trail, PM_USED); release_pages(at + n, trail); }
            p = page_addr(at);
        }
    }
    if (!p) errno = ENOMEM;
    return p;
}

static size_t usable(void *p) {
    uint8_t k = pagemap[page_of(p)];
    if (k >= 1 && k <= RM_SMALL_CLASSES) return (size_t)1 << (RM_MIN_SHIFT + k - 1);
    return (size_t)runlen[page_of(p)] << RM_PAGE_SHIFT;
}

void *malloc(size_t size) { return alloc_aligned(size, 16); }

void free(void *p) {
    if (!p) return;
    uint32_t pg = page_of(p);
    uint8_t k = pagemap[pg];
    if (k >= 1 && k <= RM_SMALL_CLASSES) {
        struct small_block *b = (struct small_block *)p;
        b->next = small_free[k - 1];
        small_free[k - 1] = b;
    } else if (k == PM_USED && ((uintptr_t)p & (RM_PAGE - 1)) == 0) {
        release_pages(pg, runlen[pg]);
    } else {
        __builtin_trap();  // not a pointer from this allocator, or freed twice
    }
}

void *calloc(size_t n, size_t size) {
    size_t total;
    if (__builtin_mul_overflow(n, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    void *p = malloc(total);
    if (p) memset(p, 0, total);
    return p;
}

void *realloc(void *p, size_t size) {
    if (!p) return malloc(size);
    if (size == 0) size = 1;
    size_t have = usable(p);
    uint32_t pg = page_of(p);
    if (pagemap[pg] == PM_USED && size > RM_SMALL_MAX) {
        uint32_t n = runlen[pg], want = pages_for(size);
        if (want <= n) {  // shrink in place
            if (want < n) {
                mark(pg, want, PM_USED);
                mark(pg + want, n - want, PM_USED);
                release_pages(pg + want, n - want);
            }
            return p;
        }
        uint32_t after = pg + n;
        if (after < heap_hi && pagemap[after] == PM_FREE && n + runlen[after] >= want) {
            uint32_t avail = runlen[after];
            list_remove(after);
            mark(pg, want, PM_USED);
            if (n + avail > want) release_pages(pg + want, n + avail - want);
            return p;
        }
        if (after == heap_hi && (uint32_t)__builtin_wasm_memory_size(0) == heap_hi) {
            // the last run of the heap: grow memory right under it
            if (__builtin_wasm_memory_grow(0, want - n) >= 0) {
                heap_hi += want - n;
                mark(pg, want, PM_USED);
                return p;
            }
            errno = ENOMEM;
            return NULL;  // p stays valid and untouched, as realloc requires
        }
    } else if (size <= have) {
        return p;
    }
    void *q = malloc(size);
    if (!q) return NULL;
    memcpy(q, p, have < size ? have : size);
    free(p);
    return q;
}

void *reallocarray(void *p, size_t n, size_t size) {
    size_t total;
    if (__builtin_mul_overflow(n, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    return realloc(p, total);
}

void *aligned_alloc(size_t align, size_t size) {
    if (align == 0 || (align & (align - 1))) {
        errno = EINVAL;
        return NULL;
    }
    return alloc_aligned(size, align);
}

int posix_memalign(void **out, size_t align, size_t size) {
    if (align < sizeof(void *) || (align & (align - 1))) return EINVAL;
    void *p = alloc_aligned(size, align);
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}

void *memalign(size_t align, size_t size) { return aligned_alloc(align, size); }
void *valloc(size_t size) { return alloc_aligned(size, 4096); }
size_t malloc_usable_size(void *p) { return p ? usable(p) : 0; }
