/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A simple allocator: blocks of power-of-two sizes carved from start_info's free RAM, and
 * one free list per size class. Freed memory is reused, never given back to the VMM.
 */
#include "kit.h"

#define MIN_SHIFT 5 /* 32-byte blocks, 16 of them header */
#define CLASSES 40
#define HDR 16

struct block {
	struct block *next; /* while free */
};

static spinlock_t heap_lock;
static uint64_t heap_next, heap_end;
static struct block *free_lists[CLASSES];

void heap_init(uint64_t start, uint64_t end)
{
	heap_next = start;
	heap_end = end;
}

static unsigned class_of(size_t n)
{
	unsigned c = MIN_SHIFT;

	while (c < CLASSES && ((size_t)1 << c) < n)
		c++;
	return c;
}

/* A block of 2^c bytes whose payload (at +HDR) is aligned to `align`. */
static void *alloc_class(unsigned c, size_t align)
{
	uint64_t base, size = 1ull << c;
	struct block *b;

	if (c >= CLASSES)
		return NULL;
	spin_lock(&heap_lock);
	b = align <= HDR ? free_lists[c] : NULL;
	if (b) {
		free_lists[c] = b->next;
	} else {
		base = (heap_next + HDR + align - 1) / align * align - HDR;
		if (base + size > heap_end || base + size < base) {
			spin_unlock(&heap_lock);
			return NULL;
		}
		heap_next = base + size;
		b = (struct block *)(uintptr_t)base;
	}
	spin_unlock(&heap_lock);
	*(uint64_t *)b = c;
	return (uint8_t *)b + HDR;
}

void *malloc(size_t n)
{
	if (n > ((size_t)1 << (CLASSES - 1)) - HDR)
		return NULL;
	return alloc_class(class_of(n + HDR), HDR);
}

void *calloc(size_t n, size_t size)
{
	void *p;

	if (size && n > (size_t)-1 / size)
		return NULL;
	p = malloc(n * size);
	if (p)
		memset(p, 0, n * size);
	return p;
}

void *memalign(size_t align, size_t n)
{
	if (align < HDR || (align & (align - 1)) || n > ((size_t)1 << (CLASSES - 1)) - HDR)
		return NULL;
	return alloc_class(class_of(n + HDR), align);
}

void free(void *p)
{
	struct block *b;
	unsigned c;

	if (!p)
		return;
	b = (struct block *)((uint8_t *)p - HDR);
	c = (unsigned)*(uint64_t *)b;
	spin_lock(&heap_lock);
	b->next = free_lists[c];
	free_lists[c] = b;
	spin_unlock(&heap_lock);
}

/* Whole pages without a header (what a balloon gives away must be entirely its own). */
static struct block *free_pages;

void *page_alloc(void)
{
	struct block *b;

	spin_lock(&heap_lock);
	b = free_pages;
	if (b) {
		free_pages = b->next;
	} else {
		uint64_t base = (heap_next + 4095) & ~4095ull;

		if (base + 4096 > heap_end || base + 4096 < base) {
			spin_unlock(&heap_lock);
			return NULL;
		}
		heap_next = base + 4096;
		b = (struct block *)(uintptr_t)base;
	}
	spin_unlock(&heap_lock);
	return b;
}

void page_free(void *p)
{
	struct block *b = p;

	if (!p)
		return;
	spin_lock(&heap_lock);
	b->next = free_pages;
	free_pages = b;
	spin_unlock(&heap_lock);
}
