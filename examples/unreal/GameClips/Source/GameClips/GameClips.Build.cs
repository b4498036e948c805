// The GameClips runtime module: the subsystem, plus the prebuilt gameclips library from
// Source/ThirdParty/gameclips (include/ and lib/<Platform>/, copied from a `cargo build --release`).
using System.IO;
using UnrealBuildTool;

public class GameClips : ModuleRules
{
    public GameClips(ReadOnlyTargetRules Target) : base(Target)
    {
        PCHUsage = PCHUsageMode.UseExplicitOrSharedPCHs;
        PublicDependencyModuleNames.AddRange(new[] { "Core", "CoreUObject", "Engine" });
        // The engine's HTTP module: on consoles it is the platform's own stack, as certification requires.
        PrivateDependencyModuleNames.Add("HTTP");

        string ThirdParty = Path.GetFullPath(Path.Combine(ModuleDirectory, "..", "ThirdParty", "gameclips"));
        PublicIncludePaths.Add(Path.Combine(ThirdParty, "include"));
        string LibDir = Path.Combine(ThirdParty, "lib", Target.Platform.ToString());

        if (Target.Platform == UnrealTargetPlatform.Win64)
        {
            // Import library to link against; the DLL is staged next to the executable and loaded on demand.
            PublicAdditionalLibraries.Add(Path.Combine(LibDir, "gameclips.dll.lib"));
            PublicDelayLoadDLLs.Add("gameclips.dll");
            RuntimeDependencies.Add("$(TargetOutputDir)/gameclips.dll", Path.Combine(LibDir, "gameclips.dll"));
        }
        else if (Target.Platform == UnrealTargetPlatform.Linux)
        {
            // The SONAME is libgameclips.so.1: stage the file under that name, where the loader looks.
            PublicAdditionalLibraries.Add(Path.Combine(LibDir, "libgameclips.so"));
            RuntimeDependencies.Add("$(TargetOutputDir)/libgameclips.so.1", Path.Combine(LibDir, "libgameclips.so"));
        }
        else if (Target.Platform == UnrealTargetPlatform.Mac)
        {
            PublicAdditionalLibraries.Add(Path.Combine(LibDir, "libgameclips.dylib"));
            RuntimeDependencies.Add("$(TargetOutputDir)/libgameclips.dylib", Path.Combine(LibDir, "libgameclips.dylib"));
        }
    }
}
