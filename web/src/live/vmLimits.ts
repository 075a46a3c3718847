// The sizes the server accepts for a VM, new or resized (domain/src/vm/spec.rs), so forms can
// say them up front; the server still decides, and its refusal lands on the field.

export const VCPUS = { min: 1, max: 64 };
export const MEMORY_MIB = { min: 64, max: 262_144 };
export const DISK_GIB = { min: 1, max: 4_096 };
