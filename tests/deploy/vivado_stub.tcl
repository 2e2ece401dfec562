# Stand-ins for the Vivado commands a generated build.tcl calls, for running it in plain tclsh.
# Every call is recorded (command and arguments, separated by \x1f, one call per line) in the file named by
# FPGABNN_TCL_LOG; getters return typed names ("cell:dma", "intf_pin:dma/S_AXI_LITE", ...) so the test can
# rebuild the design from the record. Files Vivado would write (bitstream, .hwh, reports) are written as
# placeholders where Vivado puts them. A command missing here makes tclsh fail: nothing passes unrecorded.

set ::stub_log [open $::env(FPGABNN_TCL_LOG) w]
set ::proj_dir ""
set ::proj_name ""
set ::top ""

proc stub_record {name args} {
    puts $::stub_log [join [concat [list $name] $args] "\x1f"]
    flush $::stub_log
}

# typed getters: get_bd_cells X -> cell:X (one name per argument that is not an option)
foreach {cmd kind} {get_bd_cells cell get_bd_intf_pins intf_pin get_bd_pins pin get_bd_addr_spaces space
                    get_bd_addr_segs seg get_runs run get_files file get_timing_paths path} {
    proc $cmd {args} [format {
        stub_record %1$s {*}$args
        set out [list]
        foreach a $args { if {![string match -* $a]} { lappend out "%2$s:$a" } }
        if {[llength $out] == 1} { return [lindex $out 0] }
        return $out
    } $cmd $kind]
}

proc version {args} { stub_record version {*}$args; return $::env(FPGABNN_STUB_VERSION) }
proc get_ipdefs {args} {
    stub_record get_ipdefs {*}$args
    set vln [string map {:* ""} [lindex $args end]]
    return [list "$vln:1.0" "$vln:9.9"]
}
proc get_board_parts {args} {
    stub_record get_board_parts {*}$args
    if {$::env(FPGABNN_STUB_BOARD_FILES) eq "1"} { return [lindex $args end] }
    return ""
}
proc create_project {args} {
    stub_record create_project {*}$args
    set pos [lsearch -not -glob -all $args -*]
    set ::proj_name [lindex $args [lindex $pos 0]]
    set ::proj_dir [lindex $args [lindex $pos 1]]
    file mkdir $::proj_dir
}
proc current_project {args} { stub_record current_project {*}$args; return "project:$::proj_name" }
proc current_fileset {args} { stub_record current_fileset {*}$args; return "fileset:sources_1" }
proc set_property {args} {
    stub_record set_property {*}$args
    if {[lindex $args 0] eq "top"} { set ::top [lindex $args 1] }
}
proc get_property {args} {
    stub_record get_property {*}$args
    switch -- [lindex $args 0] {
        PROGRESS { return "100%" }
        STATUS { return "write_bitstream Complete!" }
        SLACK { return 0.412 }
        DIRECTORY { return [file join $::proj_dir $::proj_name.runs impl_1] }
        default { return "" }
    }
}
proc make_wrapper {args} {
    stub_record make_wrapper {*}$args
    set bd [file rootname [lindex [split [lindex $args [expr {[lsearch $args -files] + 1}]] :] end]]
    set dir [file join $::proj_dir $::proj_name.gen sources_1 bd $bd hw_handoff]
    file mkdir $dir
    set f [open [file join $dir $bd.hwh] w]; puts $f "<hwh design=\"$bd\"/>"; close $f
}
proc launch_runs {args} {
    stub_record launch_runs {*}$args
    if {[lindex $args 0] eq "impl_1" && [lsearch $args write_bitstream] >= 0} {
        set dir [file join $::proj_dir $::proj_name.runs impl_1]
        file mkdir $dir
        set f [open [file join $dir $::top.bit] w]; puts $f "bitstream of $::top"; close $f
    }
}
foreach cmd {report_utilization report_timing_summary} {
    proc $cmd {args} [format {
        stub_record %s {*}$args
        set f [open [lindex $args [expr {[lsearch $args -file] + 1}]] w]
        puts $f "| Slice LUTs | 4321 | 0 | 53200 | 8.12 |\n| Slice Registers | 5000 | 0 | 106400 | 4.7 |\n| Block RAM Tile | 3.5 | 0 | 140 | 2.5 |\n| DSPs | 0 | 0 | 220 | 0 |"
        close $f
    } $cmd]
}
rename exec tcl_exec
proc exec {args} { stub_record exec {*}$args; return "" }

# the rest only records
foreach cmd {add_files update_compile_order close_project update_ip_catalog create_bd_design create_bd_cell
             apply_bd_automation connect_bd_intf_net connect_bd_net assign_bd_address validate_bd_design
             save_bd_design wait_on_run open_run write_bitstream} {
    proc $cmd {args} [format {stub_record %s {*}$args; return ""} $cmd]
}
namespace eval ipx {}
foreach cmd {package_project associate_bus_interfaces create_xgui_files update_checksums check_integrity save_core} {
    proc ipx::$cmd {args} [format {stub_record ipx::%s {*}$args; return ""} $cmd]
}
proc ipx::current_core {args} { stub_record ipx::current_core {*}$args; return "core:current" }
