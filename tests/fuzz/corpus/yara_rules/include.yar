include "/etc/passwd"
rule f { condition: true }
