;; The two passes of Pillow's 8-bit bilinear resampler (pil-resample.ts) in WebAssembly SIMD, bit
;; for bit the same integers: u8 × int32 weight products summed in i32 lanes from ROUND_HALF, then
;; `>> 22` and a clamp to 0..255 (the two saturating narrows clamp exactly as clip8 does; the
;; shifted sums lie in -512..512, inside i16).
;;
;; Why by hand: the JavaScript passes cost 4.6 ms for a 900×600 photo on the project's 2-core Xeon,
;; on the JS thread that also has to feed onnxruntime (whose run() blocks it), and they were the
;; largest part of the gap between a batch's inference runs. Build: `npm run build:wasm` (wabt)
;; writes resample-wasm.ts; a test checks that file still matches this source.
;;
;; Memory is laid out by the caller (resample-simd.ts). Both functions may read up to 15 bytes
;; past their last input, and the vertical pass writes up to 15 bytes past its last output row;
;; the caller leaves that slack.
(module
  (memory (export "memory") 1)

  ;; Horizontal pass, interleaved RGB, two source rows per iteration (sharing each weight load).
  ;; rows must be even (the caller gives the strip and `dst` one spare row when it is odd).
  (func (export "horizontal_rgb")
    (param $src i32) (param $src_stride i32) (param $rows i32) (param $crop_width i32)
    (param $bounds i32) (param $weights i32) (param $ksize i32) (param $dst i32)
    (local $row i32) (local $row_src i32) (local $dst_stride i32) (local $d i32)
    (local $xx i32) (local $b i32) (local $w_col i32) (local $w_step i32)
    (local $k i32) (local $k_end i32) (local $p i32)
    (local $acc_a v128) (local $acc_b v128) (local $w v128)
    (local.set $dst_stride (i32.mul (local.get $crop_width) (i32.const 3)))
    (local.set $w_step (i32.shl (local.get $ksize) (i32.const 2)))
    (block $rows_done
      (loop $row_loop
        (br_if $rows_done (i32.ge_u (local.get $row) (local.get $rows)))
        (local.set $row_src (i32.add (local.get $src) (i32.mul (local.get $row) (local.get $src_stride))))
        (local.set $d (i32.add (local.get $dst) (i32.mul (local.get $row) (local.get $dst_stride))))
        (local.set $xx (i32.const 0))
        (local.set $b (local.get $bounds))
        (local.set $w_col (local.get $weights))
        (block $cols_done
          (loop $col_loop
            (br_if $cols_done (i32.ge_u (local.get $xx) (local.get $crop_width)))
            (local.set $p (i32.add (local.get $row_src) (i32.mul (i32.load (local.get $b)) (i32.const 3))))
            (local.set $k (local.get $w_col))
            (local.set $k_end (i32.add (local.get $w_col) (i32.shl (i32.load offset=4 (local.get $b)) (i32.const 2))))
            (local.set $acc_a (v128.const i32x4 2097152 2097152 2097152 2097152))
            (local.set $acc_b (v128.const i32x4 2097152 2097152 2097152 2097152))
            (block $taps_done
              (loop $tap_loop
                (br_if $taps_done (i32.ge_u (local.get $k) (local.get $k_end)))
                (local.set $w (v128.load32_splat (local.get $k)))
                (local.set $acc_a
                  (i32x4.add (local.get $acc_a)
                    (i32x4.mul (local.get $w)
                      (i32x4.extend_low_i16x8_u (i16x8.extend_low_i8x16_u (v128.load32_zero align=1 (local.get $p)))))))
                (local.set $acc_b
                  (i32x4.add (local.get $acc_b)
                    (i32x4.mul (local.get $w)
                      (i32x4.extend_low_i16x8_u (i16x8.extend_low_i8x16_u
                        (v128.load32_zero align=1 (i32.add (local.get $p) (local.get $src_stride))))))))
                (local.set $p (i32.add (local.get $p) (i32.const 3)))
                (local.set $k (i32.add (local.get $k) (i32.const 4)))
                (br $tap_loop)))
            (local.set $acc_a (i32x4.shr_s (local.get $acc_a) (i32.const 22)))
            (local.set $acc_b (i32x4.shr_s (local.get $acc_b) (i32.const 22)))
            ;; lanes 0–3: row a, lanes 4–7: row b; after the u8 narrow, bytes 0–3 and 4–7.
            (local.set $w (i8x16.narrow_i16x8_u
              (i16x8.narrow_i32x4_s (local.get $acc_a) (local.get $acc_b))
              (i16x8.narrow_i32x4_s (local.get $acc_a) (local.get $acc_b))))
            ;; Three bytes per row (a 4-byte store would let row a's last pixel overwrite row b's first).
            (v128.store16_lane align=1 0 (local.get $d) (local.get $w))
            (v128.store8_lane offset=2 2 (local.get $d) (local.get $w))
            (v128.store16_lane align=1 2 (i32.add (local.get $d) (local.get $dst_stride)) (local.get $w))
            (v128.store8_lane offset=2 6 (i32.add (local.get $d) (local.get $dst_stride)) (local.get $w))
            (local.set $d (i32.add (local.get $d) (i32.const 3)))
            (local.set $b (i32.add (local.get $b) (i32.const 8)))
            (local.set $w_col (i32.add (local.get $w_col) (local.get $w_step)))
            (local.set $xx (i32.add (local.get $xx) (i32.const 1)))
            (br $col_loop)))
        (local.set $row (i32.add (local.get $row) (i32.const 2)))
        (br $row_loop))))

  ;; Vertical pass over any channel count: 16 output bytes at a time, each output row summing its
  ;; taps' source rows. `first_row` is the source row held at `temp`'s first line.
  (func (export "vertical")
    (param $temp i32) (param $stride i32) (param $out_rows i32) (param $first_row i32)
    (param $bounds i32) (param $weights i32) (param $ksize i32) (param $out i32)
    (local $yy i32) (local $row_base i32) (local $w_row i32) (local $w_end i32) (local $o i32)
    (local $i i32) (local $p i32) (local $k i32)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $v v128) (local $lo v128) (local $hi v128) (local $w v128)
    (block $rows_done
      (loop $row_loop
        (br_if $rows_done (i32.ge_u (local.get $yy) (local.get $out_rows)))
        (local.set $row_base (i32.add (local.get $temp)
          (i32.mul (i32.sub (i32.load (i32.add (local.get $bounds) (i32.shl (local.get $yy) (i32.const 3)))) (local.get $first_row))
            (local.get $stride))))
        (local.set $w_row (i32.add (local.get $weights) (i32.shl (i32.mul (local.get $yy) (local.get $ksize)) (i32.const 2))))
        (local.set $w_end (i32.add (local.get $w_row)
          (i32.shl (i32.load offset=4 (i32.add (local.get $bounds) (i32.shl (local.get $yy) (i32.const 3)))) (i32.const 2))))
        (local.set $o (i32.add (local.get $out) (i32.mul (local.get $yy) (local.get $stride))))
        (local.set $i (i32.const 0))
        (block $cols_done
          (loop $col_loop
            (br_if $cols_done (i32.ge_u (local.get $i) (local.get $stride)))
            (local.set $a0 (v128.const i32x4 2097152 2097152 2097152 2097152))
            (local.set $a1 (local.get $a0))
            (local.set $a2 (local.get $a0))
            (local.set $a3 (local.get $a0))
            (local.set $p (i32.add (local.get $row_base) (local.get $i)))
            (local.set $k (local.get $w_row))
            (block $taps_done
              (loop $tap_loop
                (br_if $taps_done (i32.ge_u (local.get $k) (local.get $w_end)))
                (local.set $w (v128.load32_splat (local.get $k)))
                (local.set $v (v128.load align=1 (local.get $p)))
                (local.set $lo (i16x8.extend_low_i8x16_u (local.get $v)))
                (local.set $hi (i16x8.extend_high_i8x16_u (local.get $v)))
                (local.set $a0 (i32x4.add (local.get $a0) (i32x4.mul (local.get $w) (i32x4.extend_low_i16x8_u (local.get $lo)))))
                (local.set $a1 (i32x4.add (local.get $a1) (i32x4.mul (local.get $w) (i32x4.extend_high_i16x8_u (local.get $lo)))))
                (local.set $a2 (i32x4.add (local.get $a2) (i32x4.mul (local.get $w) (i32x4.extend_low_i16x8_u (local.get $hi)))))
                (local.set $a3 (i32x4.add (local.get $a3) (i32x4.mul (local.get $w) (i32x4.extend_high_i16x8_u (local.get $hi)))))
                (local.set $p (i32.add (local.get $p) (local.get $stride)))
                (local.set $k (i32.add (local.get $k) (i32.const 4)))
                (br $tap_loop)))
            (v128.store align=1 (i32.add (local.get $o) (local.get $i))
              (i8x16.narrow_i16x8_u
                (i16x8.narrow_i32x4_s (i32x4.shr_s (local.get $a0) (i32.const 22)) (i32x4.shr_s (local.get $a1) (i32.const 22)))
                (i16x8.narrow_i32x4_s (i32x4.shr_s (local.get $a2) (i32.const 22)) (i32x4.shr_s (local.get $a3) (i32.const 22)))))
            (local.set $i (i32.add (local.get $i) (i32.const 16)))
            (br $col_loop)))
        (local.set $yy (i32.add (local.get $yy) (i32.const 1)))
        (br $row_loop)))))
