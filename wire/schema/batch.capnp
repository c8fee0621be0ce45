# The native write/read batch of strata: what crosses nodes between actors and
# what a WAL record carries (docs/format/batch.md).
@0xc94df2d83034697b;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("strata::wire::schema");

struct Batch {
  version @0 :UInt16;          # 1; a reader rejects any other value
  strings @1 :List(Text);      # interned label names and values, each once
  series @2 :List(Series);
}

struct Series {
  labels @0 :List(UInt32);     # (name, value) index pairs into Batch.strings
  timestamps @1 :List(Int64);  # milliseconds since the epoch
  values @2 :List(Float64);    # same length as timestamps; raw IEEE 754 bits
}
