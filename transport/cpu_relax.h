// CpuRelax: the processor's spin-wait hint, for the few bounded polling loops we have.
#pragma once

namespace h2rpc::transport {

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

}  // namespace h2rpc::transport
