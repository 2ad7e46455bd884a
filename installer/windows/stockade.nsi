; Stockade for Windows: installer and uninstaller (NSIS 3, 64-bit Unicode stub).
;
; Built by the windows preset (installer/CMakeLists.txt) with Debian's makensis:
;   makensis -DSTOCKADE_VERSION=0.1.0 -DSTOCKADE_BIN_DIR=<dir with the .exe files>
;            -DSTOCKADE_SOURCE_DIR=<repository> -DOUTFILE=<...>/stockade-setup.exe stockade.nsi
;
; Installer command line (docs/deployment.md lists the exit codes):
;   /S                     silent
;   /POLICY=<file>         policy copied to %ProgramData%\Stockade\policy.toml (kept on upgrade
;                          when not given; the embedded default is written on a first install)
;   /GRANT=<dir>[;<dir>]   workspaces granted after provisioning (stockade-provision grant)
;   /LOG=<file>            installer log (default %TEMP%\stockade-setup.log)
;   /D=<dir>               install folder (NSIS: last, unquoted, may contain spaces)
; Uninstaller command line:
;   /S, /PURGE (no archive of the audit store), /ARCHIVE=<dir>, /LOG=<file>,
;   _?=<install dir> (NSIS: last, unquoted; runs in place and synchronously)
;
; Order matters for a clean rollback:
;   install:   files -> policy -> `stockade-provision apply` -> grants -> registry entries.
;              Any failure undoes what this run did (provisioning through the provisioner's own
;              rollback, read back with `status`) and exits with a distinct code.
;   uninstall: detection value removed -> `stockade-provision uninstall` (rollback, residue scan,
;              receipt) -> only when that is clean: archive, files, registry. Otherwise the
;              detection value is put back and Stockade stays installed (exit 30).
; The HKLM\Software\Stockade key is also where provisioning keeps the write SID; the residue scan
; requires the key to be gone, which is why the detection value is written after provisioning
; and removed before the provisioner's uninstall.

Unicode true
Target amd64-unicode
RequestExecutionLevel admin
ManifestDPIAware true
SetCompressor /SOLID lzma

!ifndef STOCKADE_VERSION
  !error "pass -DSTOCKADE_VERSION=x.y.z"
!endif
!ifndef STOCKADE_BIN_DIR
  !error "pass -DSTOCKADE_BIN_DIR=<folder holding stockade.exe, stockaded.exe, stockade-provision.exe>"
!endif
!ifndef STOCKADE_SOURCE_DIR
  !error "pass -DSTOCKADE_SOURCE_DIR=<repository root>"
!endif
!ifndef OUTFILE
  !define OUTFILE "stockade-setup.exe"
!endif

!include LogicLib.nsh
!include FileFunc.nsh
!include WordFunc.nsh
!include x64.nsh
!include MUI2.nsh

!define PRODUCT "Stockade"
!define PUBLISHER "Stockade project"
!define UNINSTALL_KEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\Stockade"
!define PRODUCT_KEY "Software\Stockade"

; Exit codes (docs/deployment.md). NSIS itself uses 1 (cancelled) and 2 (aborted).
!define EXIT_OK 0
!define EXIT_NOT_ADMIN 20
!define EXIT_BAD_ARGUMENT 21
!define EXIT_POLICY_INVALID 22
!define EXIT_PROVISION_FAILED 23
!define EXIT_GRANT_FAILED 24
!define EXIT_ROLLBACK_INCOMPLETE 25
!define EXIT_FILES_FAILED 26
!define EXIT_UNINSTALL_NOT_CLEAN 30
!define EXIT_ARCHIVE_FAILED 31
!define EXIT_FILES_REMAIN 32

Name "${PRODUCT} ${STOCKADE_VERSION}"
OutFile "${OUTFILE}"
InstallDir "$PROGRAMFILES64\${PRODUCT}"
InstallDirRegKey HKLM "${UNINSTALL_KEY}" "InstallLocation"
ShowInstDetails show
ShowUninstDetails show
BrandingText "${PRODUCT} ${STOCKADE_VERSION}"

VIProductVersion "${STOCKADE_VERSION}.0"
VIAddVersionKey /LANG=1033 "ProductName" "${PRODUCT}"
VIAddVersionKey /LANG=1033 "CompanyName" "${PUBLISHER}"
VIAddVersionKey /LANG=1033 "FileDescription" "${PRODUCT} installer"
VIAddVersionKey /LANG=1033 "FileVersion" "${STOCKADE_VERSION}"
VIAddVersionKey /LANG=1033 "ProductVersion" "${STOCKADE_VERSION}"
VIAddVersionKey /LANG=1033 "LegalCopyright" "${PUBLISHER}"

!define MUI_ABORTWARNING
!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_INSTFILES
!insertmacro MUI_UNPAGE_CONFIRM
!insertmacro MUI_UNPAGE_INSTFILES
!insertmacro MUI_LANGUAGE "English"

Var StateDir        ; %ProgramData%\Stockade
Var PolicySrc       ; /POLICY=
Var Grants          ; /GRANT=
Var LogFile         ; /LOG=
Var Purge           ; uninstaller: 1 with /PURGE
Var ArchiveDir      ; uninstaller: /ARCHIVE= or the default
Var Upgrade         ; 1 when a previous version is installed here
Var OldVersion
Var StateExisted    ; the state folder existed before this run
Var PolicyBackedUp  ; 1 when a previous policy.toml was saved in the backup folder
Var Backup          ; $PLUGINSDIR\backup
Var ExitCode
Var Granted         ; ";"-joined workspaces granted by this run (for the rollback)
Var LogHandle
Var InitDir         ; the current folder the installer was started in

; ---------------------------------------------------------------------------------------------
; Logging: every line goes to the details view and to the log file (a silent install has no
; view; the log is what fleet tools collect).

!macro _Log text
  DetailPrint "${text}"
  FileOpen $LogHandle $LogFile a
  ${IfNot} $LogHandle == ""
    FileSeek $LogHandle 0 END
    FileWrite $LogHandle "${text}$\r$\n"
    FileClose $LogHandle
  ${EndIf}
!macroend
!define Log "!insertmacro _Log"

; Runs a command line through cmd.exe with stdout and stderr appended to the log; the exit code
; is left in $0 ("error" when it could not be started).
!macro _RunLogged cmdline
  StrCpy $R9 `${cmdline}`
  ${Log} "> $R9"
  nsExec::Exec `"$SYSDIR\cmd.exe" /S /C "$R9 >>"$LogFile" 2>&1"`
  Pop $0
  ${Log} "  exit code $0"
!macroend
!define RunLogged "!insertmacro _RunLogged"

; The provisioner with the state folder and policy this installation uses.
!macro _Provision args
  ${RunLogged} '"$INSTDIR\stockade-provision.exe" --state-dir "$StateDir" --policy "$StateDir\policy.toml" ${args}'
!macroend
!define Provision "!insertmacro _Provision"

!macro _SetupCommon
  SetShellVarContext all
  SetRegView 64
  StrCpy $StateDir "$APPDATA\${PRODUCT}"
!macroend

!macro _RequireAdmin
  UserInfo::GetAccountType
  Pop $0
  ${If} $0 != "Admin"
    MessageBox MB_ICONSTOP "${PRODUCT} must be installed and removed by an administrator." /SD IDOK
    SetErrorLevel ${EXIT_NOT_ADMIN}
    Quit
  ${EndIf}
!macroend

; An option that is on the command line but that GetOptions could not read (written as
; "/POLICY=C:\a b" with the quote before the slash) must not be silently ignored: exit 21.
!macro _RequireParsed option value
  ClearErrors
  ${WordFind} "$R0" "${option}" "E#" $R3
  ${IfNot} ${Errors}
  ${AndIf} ${value} == ""
    ${Log} "error: ${option} is on the command line but could not be read; quote only the value: ${option}$\"<path>$\""
    SetErrorLevel ${EXIT_BAD_ARGUMENT}
    Quit
  ${EndIf}
  ClearErrors
!macroend

; ---------------------------------------------------------------------------------------------
; Installer

Function .onInit
  !insertmacro _SetupCommon
  !insertmacro _RequireAdmin
  ${GetParameters} $R0
  ClearErrors
  ${GetOptions} $R0 "/LOG=" $LogFile
  ${If} ${Errors}
  ${OrIf} $LogFile == ""
    StrCpy $LogFile "$TEMP\stockade-setup.log"
  ${EndIf}
  ClearErrors
  ${GetOptions} $R0 "/POLICY=" $PolicySrc
  ${If} ${Errors}
    StrCpy $PolicySrc ""
  ${EndIf}
  ClearErrors
  ${GetOptions} $R0 "/GRANT=" $Grants
  ${If} ${Errors}
    StrCpy $Grants ""
  ${EndIf}
  ; Relative paths are relative to the folder the installer was started in (Intune starts it in
  ; the package's folder); the install changes the current folder, so they are fixed here.
  GetFullPathName $InitDir "."
  GetFullPathName $R1 $LogFile  ; empty when its folder does not exist: then as given
  ${If} $R1 != ""
    StrCpy $LogFile $R1
  ${EndIf}
  Delete $LogFile
  ${Log} "${PRODUCT} ${STOCKADE_VERSION} setup; command line: $R0"
  !insertmacro _RequireParsed "/POLICY=" $PolicySrc
  !insertmacro _RequireParsed "/GRANT=" $Grants
  ${If} $PolicySrc != ""
    ${IfNot} ${FileExists} "$PolicySrc"
      ${Log} "error: /POLICY=$PolicySrc: no such file"
      MessageBox MB_ICONSTOP "The policy file $PolicySrc does not exist." /SD IDOK
      SetErrorLevel ${EXIT_BAD_ARGUMENT}
      Quit
    ${EndIf}
    GetFullPathName $PolicySrc $PolicySrc  ; it exists: the full path is never empty
  ${EndIf}
  ReadRegStr $OldVersion HKLM "${PRODUCT_KEY}" "Version"
  StrCpy $Upgrade 0
  ${If} $OldVersion != ""
  ${AndIf} ${FileExists} "$INSTDIR\stockade-provision.exe"
    StrCpy $Upgrade 1
  ${EndIf}
FunctionEnd

; Restores what this run changed on disk and in the registry. $Upgrade tells whether the old
; binaries and policy come back (upgrade) or everything goes (first install).
Function RollbackFiles
  SetOutPath "$PLUGINSDIR"  ; a process cannot remove its current folder
  ${If} $Upgrade == 1
    ${Log} "rolling back: restoring version $OldVersion's files"
    CopyFiles /SILENT "$Backup\bin\*.*" "$INSTDIR"
  ${Else}
    ${Log} "rolling back: removing $INSTDIR"
    Delete "$INSTDIR\stockade.exe"
    Delete "$INSTDIR\stockaded.exe"
    Delete "$INSTDIR\stockade-provision.exe"
    Delete "$INSTDIR\default-policy.toml"
    Delete "$INSTDIR\uninstall.exe"
    RMDir "$INSTDIR"
  ${EndIf}
  ${If} $PolicyBackedUp == 1
    CopyFiles /SILENT "$Backup\policy.toml" "$StateDir\policy.toml"
  ${Else}
    Delete "$StateDir\policy.toml"
  ${EndIf}
  ${If} $StateExisted == 0
    ; Only reached when the provisioner read back that it owns nothing: the folder holds just
    ; the journal of a rolled-back transaction and the lock file.
    ${Log} "rolling back: removing $StateDir"
    RMDir /r "$StateDir"
  ${EndIf}
FunctionEnd

; After a failed provisioning command: the provisioner has rolled its transaction back; `status`
; reads back whether anything it journaled is still unresolved. Clean: the files go too and the
; install exits with $ExitCode. Not clean: Stockade stays installed (registered, so that the
; uninstaller can retry) and exits 25.
Function FailInstall
  ${Provision} "status"
  ${If} $0 != 0
  ${AndIf} $Upgrade == 0
    ${Log} "error: provisioning could not be rolled back completely (status exit $0);"
    ${Log} "       ${PRODUCT} stays installed: run the uninstaller or `stockade-provision rollback`"
    Call WriteRegistry
    SetErrorLevel ${EXIT_ROLLBACK_INCOMPLETE}
    Quit
  ${EndIf}
  Call RollbackFiles
  ${If} $Upgrade == 1
    ; The previous version's binaries and policy are back: provisioning follows them again
    ; (a journaled re-apply; "no changes" when the failed apply had already rolled back).
    ${Provision} 'apply --service-binary "$INSTDIR\stockaded.exe"'
  ${EndIf}
  ${Log} "install failed and was rolled back (exit code $ExitCode); log: $LogFile"
  MessageBox MB_ICONSTOP "${PRODUCT} could not be installed; everything was rolled back.$\r$\nLog: $LogFile" /SD IDOK
  SetErrorLevel $ExitCode
  Quit
FunctionEnd

Function WriteRegistry
  WriteRegStr HKLM "${UNINSTALL_KEY}" "DisplayName" "${PRODUCT}"
  WriteRegStr HKLM "${UNINSTALL_KEY}" "DisplayVersion" "${STOCKADE_VERSION}"
  WriteRegStr HKLM "${UNINSTALL_KEY}" "Publisher" "${PUBLISHER}"
  WriteRegStr HKLM "${UNINSTALL_KEY}" "InstallLocation" "$INSTDIR"
  WriteRegStr HKLM "${UNINSTALL_KEY}" "DisplayIcon" "$INSTDIR\stockade.exe"
  ; _?= must be last and unquoted (NSIS reads the rest of the line as the folder): this is what
  ; makes a fleet tool's uninstall synchronous (without it the uninstaller re-launches itself
  ; from %TEMP% and returns at once).
  WriteRegStr HKLM "${UNINSTALL_KEY}" "UninstallString" '"$INSTDIR\uninstall.exe" _?=$INSTDIR'
  WriteRegStr HKLM "${UNINSTALL_KEY}" "QuietUninstallString" '"$INSTDIR\uninstall.exe" /S _?=$INSTDIR'
  WriteRegDWORD HKLM "${UNINSTALL_KEY}" "NoModify" 1
  WriteRegDWORD HKLM "${UNINSTALL_KEY}" "NoRepair" 1
  ${GetSize} "$INSTDIR" "/S=0K" $1 $2 $3
  WriteRegDWORD HKLM "${UNINSTALL_KEY}" "EstimatedSize" $1
  ; The detection value for MDM tools (Intune, SCCM): written last, only on success.
  WriteRegStr HKLM "${PRODUCT_KEY}" "Version" "${STOCKADE_VERSION}"
  WriteRegStr HKLM "${PRODUCT_KEY}" "InstallLocation" "$INSTDIR"
FunctionEnd

Section "Stockade" SecMain
  SectionIn RO
  InitPluginsDir
  StrCpy $Backup "$PLUGINSDIR\backup"
  StrCpy $PolicyBackedUp 0
  StrCpy $Granted ""
  ${If} $Upgrade == 1
    ${Log} "upgrading ${PRODUCT} $OldVersion in $INSTDIR to ${STOCKADE_VERSION}; the journal and audit store in $StateDir are kept"
    CreateDirectory "$Backup\bin"
    CopyFiles /SILENT "$INSTDIR\*.exe" "$Backup\bin"
  ${Else}
    ${Log} "installing ${PRODUCT} ${STOCKADE_VERSION} into $INSTDIR"
  ${EndIf}

  StrCpy $StateExisted 0
  ${If} ${FileExists} "$StateDir\*.*"
    StrCpy $StateExisted 1
  ${EndIf}

  ; Files.
  SetOverwrite on
  SetOutPath "$INSTDIR"
  ClearErrors
  File "${STOCKADE_BIN_DIR}/stockade.exe"
  File "${STOCKADE_BIN_DIR}/stockaded.exe"
  File "${STOCKADE_BIN_DIR}/stockade-provision.exe"
  File "/oname=default-policy.toml" "${STOCKADE_SOURCE_DIR}/docs/examples/policy.toml"
  WriteUninstaller "$INSTDIR\uninstall.exe"
  ${If} ${Errors}
    ${Log} "error: could not write the program files into $INSTDIR"
    StrCpy $ExitCode ${EXIT_FILES_FAILED}
    Call RollbackFiles
    SetErrorLevel $ExitCode
    Quit
  ${EndIf}

  ; Policy: the one given, else the one already there, else the default.
  CreateDirectory "$StateDir"
  ${If} ${FileExists} "$StateDir\policy.toml"
    CreateDirectory "$Backup"
    CopyFiles /SILENT "$StateDir\policy.toml" "$Backup"
    StrCpy $PolicyBackedUp 1
  ${EndIf}
  ClearErrors
  ${If} $PolicySrc != ""
    ${Log} "policy: $PolicySrc -> $StateDir\policy.toml"
    CopyFiles /SILENT "$PolicySrc" "$StateDir\policy.toml"
  ${ElseIf} $PolicyBackedUp == 0
    ${Log} "policy: the default policy -> $StateDir\policy.toml"
    CopyFiles /SILENT "$INSTDIR\default-policy.toml" "$StateDir\policy.toml"
  ${Else}
    ${Log} "policy: keeping $StateDir\policy.toml"
  ${EndIf}
  ${If} ${Errors}
    ${Log} "error: could not write $StateDir\policy.toml"
    StrCpy $ExitCode ${EXIT_FILES_FAILED}
    Call RollbackFiles
    SetErrorLevel $ExitCode
    Quit
  ${EndIf}

  ; Provisioning (journaled; a failure rolls its own transaction back).
  ${Provision} 'apply --service-binary "$INSTDIR\stockaded.exe"'
  ${If} $0 != 0
    ${If} $0 == 3
      StrCpy $ExitCode ${EXIT_POLICY_INVALID}
    ${Else}
      StrCpy $ExitCode ${EXIT_PROVISION_FAILED}
    ${EndIf}
    Call FailInstall
  ${EndIf}

  ; Workspace grants.
  StrCpy $R1 $Grants
  ${DoWhile} $R1 != ""
    ${WordFind} $R1 ";" "+1{" $R2  ; the first entry
    ${If} $R2 == $R1               ; no ";" left
      StrCpy $R1 ""
    ${Else}
      ${WordFind} $R1 ";" "+1}" $R1  ; the rest
    ${EndIf}
    ${If} $R2 == ""
      ${Continue}
    ${EndIf}
    StrCpy $R3 $R2 1 1
    StrCpy $R4 $R2 2
    ${If} $R3 != ":"
    ${AndIf} $R4 != "\\"
      StrCpy $R2 "$InitDir\$R2"  ; relative: to the folder the installer was started in
    ${EndIf}
    ${Provision} 'grant "$R2"'
    ${If} $0 != 0
      ${Log} "error: granting $R2 failed; undoing this run's grants and provisioning"
      StrCpy $ExitCode ${EXIT_GRANT_FAILED}
      Call UndoGrantsAndProvisioning
      Call FailInstall
    ${EndIf}
    StrCpy $Granted "$Granted$R2;"
  ${Loop}

  Call WriteRegistry
  CreateDirectory "$StateDir\logs"
  CopyFiles /SILENT "$LogFile" "$StateDir\logs\setup-${STOCKADE_VERSION}.log"
  ${Log} "${PRODUCT} ${STOCKADE_VERSION} installed in $INSTDIR"
  SetErrorLevel ${EXIT_OK}
SectionEnd

; A grant failed after provisioning succeeded. First install: `uninstall` takes everything back
; (the apply and the grants). Upgrade: the grants of this run are revoked; the apply's own
; re-application stays journaled and is rolled back only if it changed something.
Function UndoGrantsAndProvisioning
  ${If} $Upgrade == 0
    ${Provision} "uninstall"
    Return
  ${EndIf}
  StrCpy $R1 $Granted
  ${DoWhile} $R1 != ""
    ${WordFind} $R1 ";" "+1{" $R2
    ${WordFind} $R1 ";" "+1}" $R1
    ${If} $R2 != ""
      ${Provision} 'revoke "$R2"'
    ${EndIf}
  ${Loop}
FunctionEnd

; ---------------------------------------------------------------------------------------------
; Uninstaller

Function un.onInit
  !insertmacro _SetupCommon
  !insertmacro _RequireAdmin
  ${GetParameters} $R0
  ClearErrors
  ${GetOptions} $R0 "/LOG=" $LogFile
  ${If} ${Errors}
  ${OrIf} $LogFile == ""
    StrCpy $LogFile "$TEMP\stockade-uninstall.log"
  ${EndIf}
  GetFullPathName $R1 $LogFile
  ${If} $R1 != ""
    StrCpy $LogFile $R1
  ${EndIf}
  StrCpy $Purge 0
  ClearErrors
  ${GetOptions} $R0 "/PURGE" $R1
  ${IfNot} ${Errors}
    StrCpy $Purge 1
  ${EndIf}
  ClearErrors
  ${GetOptions} $R0 "/ARCHIVE=" $ArchiveDir
  ${If} ${Errors}
  ${OrIf} $ArchiveDir == ""
    ${GetTime} "" "LS" $1 $2 $3 $4 $5 $6 $7
    StrCpy $ArchiveDir "$APPDATA\${PRODUCT}-archive\uninstall-$3$2$1-$5$6$7"
  ${EndIf}
  Delete $LogFile
  ${Log} "${PRODUCT} ${STOCKADE_VERSION} uninstall from $INSTDIR; command line: $R0"
FunctionEnd

Section "Uninstall"
  ReadRegStr $OldVersion HKLM "${PRODUCT_KEY}" "Version"
  ; The detection value goes first: the residue scan requires HKLM\${PRODUCT_KEY} to be gone.
  DeleteRegValue HKLM "${PRODUCT_KEY}" "Version"
  DeleteRegValue HKLM "${PRODUCT_KEY}" "InstallLocation"
  DeleteRegKey /ifempty HKLM "${PRODUCT_KEY}"

  ${If} ${FileExists} "$StateDir\policy.toml"
    ${RunLogged} '"$INSTDIR\stockade-provision.exe" --state-dir "$StateDir" --policy "$StateDir\policy.toml" uninstall'
  ${Else}
    ${Log} "no $StateDir\policy.toml: the embedded default policy names the identities"
    ${RunLogged} '"$INSTDIR\stockade-provision.exe" --state-dir "$StateDir" uninstall'
  ${EndIf}
  ${If} $0 != 0
    ${Log} "error: the rollback or the residue scan is not clean (exit $0): ${PRODUCT} stays installed."
    ${Log} "       What remains is listed above and in $StateDir\uninstall-receipt.json; run the uninstaller again to retry."
    ${If} $OldVersion != ""
      WriteRegStr HKLM "${PRODUCT_KEY}" "Version" "$OldVersion"
      WriteRegStr HKLM "${PRODUCT_KEY}" "InstallLocation" "$INSTDIR"
    ${EndIf}
    MessageBox MB_ICONSTOP "${PRODUCT} could not be removed cleanly and stays installed.$\r$\nLog: $LogFile" /SD IDOK
    SetErrorLevel ${EXIT_UNINSTALL_NOT_CLEAN}
    Quit
  ${EndIf}

  ; The audit store, the rollback receipt, the journal and the logs are kept unless /PURGE.
  ${If} $Purge == 0
    ${Log} "archiving the audit store, receipt, journal and logs to $ArchiveDir"
    ClearErrors
    CreateDirectory "$ArchiveDir"
    CopyFiles /SILENT "$StateDir\uninstall-receipt.json" "$ArchiveDir"
    CopyFiles /SILENT "$StateDir\journal.db*" "$ArchiveDir"
    ${If} ${FileExists} "$StateDir\audit\*.*"
      CopyFiles /SILENT "$StateDir\audit" "$ArchiveDir"
      ${If} ${FileExists} "$INSTDIR\stockade.exe"
        ; A verifiable export next to the copied store (the store itself keeps the hash chain).
        ${RunLogged} '"$INSTDIR\stockade.exe" --state-dir "$StateDir" audit export --format jsonl --output "$ArchiveDir\audit-export.jsonl"'
      ${EndIf}
    ${EndIf}
    ${If} ${FileExists} "$StateDir\logs\*.*"
      CopyFiles /SILENT "$StateDir\logs" "$ArchiveDir"
    ${EndIf}
    ${If} ${Errors}
    ${OrIfNot} ${FileExists} "$ArchiveDir\uninstall-receipt.json"
      ${Log} "error: could not archive to $ArchiveDir; the state folder $StateDir is kept"
      SetErrorLevel ${EXIT_ARCHIVE_FAILED}
      Quit
    ${EndIf}
  ${Else}
    ${Log} "/PURGE: the audit store and journal are deleted without an archive"
  ${EndIf}

  SetOutPath "$TEMP"  ; a process cannot remove its current folder
  RMDir /r "$StateDir"
  Delete "$INSTDIR\stockade.exe"
  Delete "$INSTDIR\stockaded.exe"
  Delete "$INSTDIR\stockade-provision.exe"
  Delete "$INSTDIR\default-policy.toml"
  DeleteRegKey HKLM "${UNINSTALL_KEY}"
  ; Running in place (_?=): the uninstaller cannot delete its own image while it runs. A
  ; detached cmd.exe waits for this process to end, then removes it and the folder.
  Delete "$INSTDIR\uninstall.exe"
  ${If} ${FileExists} "$INSTDIR\uninstall.exe"
    ${Log} "uninstall.exe and $INSTDIR are removed once this process exits"
    Exec '"$SYSDIR\cmd.exe" /S /C "for /L %i in (1,1,50) do (del /F /Q "$INSTDIR\uninstall.exe" 2>NUL & rmdir "$INSTDIR" 2>NUL & if not exist "$INSTDIR" exit /B 0 & ping -n 2 127.0.0.1 >NUL)"'
  ${Else}
    RMDir "$INSTDIR"
  ${EndIf}
  ${If} ${FileExists} "$StateDir\*.*"
    ${Log} "error: $StateDir could not be removed completely (a file in use?)"
    SetErrorLevel ${EXIT_FILES_REMAIN}
    Quit
  ${EndIf}
  ${If} $Purge == 0
    CopyFiles /SILENT "$LogFile" "$ArchiveDir"
  ${EndIf}
  ${Log} "${PRODUCT} removed; provisioning rolled back and verified"
  SetErrorLevel ${EXIT_OK}
SectionEnd
