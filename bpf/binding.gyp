{
  "targets": [
    {
      "target_name": "bpf_native_loader",
      "sources": ["native/loader.c", "native/capture.c", "native/consumer.c", "native/layout.c", "native/napi_helpers.c", "native/libbpf_log.c", "native/host.c", "native/features.c", "native/privileges.c", "native/pin.c"],
      "include_dirs": ["src", ".output"],
      "cflags": ["-std=gnu11", "-Wall", "-Wno-unused-parameter", "-O2"],
      "libraries": ["-lbpf", "-lelf", "-lz"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
